using System.Diagnostics;
using System.Globalization;
using System.Text;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Unlock;

/// <summary>
/// What an unlock run is told to use besides the keys (configuration, guest names, state file,
/// log, the run lock), as the real program meets it (reliability.md "Hostile review" 6, 7, 8, 9):
/// every refusal is exit 2 before any key file is touched, no input can block the run, and a run
/// waiting for the lock says for whom and ends cleanly on a signal. libvirt's built-in test driver
/// (test:///default, no daemon) serves the guest-name checks: no guest is ever started here.
/// </summary>
public sealed class RunInputTests : IDisposable
{
    private const string TestDriver = "test:///default";

    /// <summary>The run lock every luksvirt run takes (other tests' runs wait behind it while it is held here).</summary>
    private const string RunLockPath = "/run/luksvirt/lock";

    private readonly TempDirectory _directory = new("run-input");
    private readonly byte[] _keyBytes = Encoding.ASCII.GetBytes("not-a-real-key-" + Guid.NewGuid().ToString("N"));

    public RunInputTests()
    {
        Directory.CreateDirectory(KeyDirectory);
        File.SetUnixFileMode(KeyDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllBytes(KeyFile, _keyBytes);
        File.SetUnixFileMode(KeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(ConfigPath, "<vms/>");
    }

    private string KeyDirectory => _directory.PathOf("keys");

    private string KeyFile => Path.Combine(KeyDirectory, "luks-alice.key");

    private string ConfigPath => _directory.PathOf("luksvirt.xml");

    private string StatePath => _directory.PathOf("state.json");

    private string LogPath => _directory.PathOf("luksvirt.log");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void A_duplicate_vm_in_the_configuration_is_exit_2_and_leaves_the_key_files_untouched()
    {
        File.WriteAllText(ConfigPath, "<vms>\n<vm name='a'/>\n<vm name='a'/>\n</vms>\n");

        var result = Unlock();

        Assert.True(result.ExitCode == 2, result.StandardError);
        Assert.Contains($"{ConfigPath}:3: duplicate <vm name='a'>", result.StandardError, StringComparison.Ordinal);
        AssertKeyFileUntouched();
        Assert.False(File.Exists(StatePath));
    }

    [Fact]
    public void An_unknown_vm_name_is_exit_2_leaves_the_key_files_untouched_and_is_echoed_bounded()
    {
        var typo = "typo-" + new string('x', 20_000);

        var result = Unlock("--vm", typo);

        Assert.True(result.ExitCode == 2, result.StandardError);
        Assert.Contains("unknown guest 'typo-xxx", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("…'", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('x', 100), result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('x', 100), File.ReadAllText(LogPath), StringComparison.Ordinal);
        AssertKeyFileUntouched();
    }

    [Fact]
    public void Usb_checks_the_configuration_before_it_reads_the_stick()
    {
        File.WriteAllText(ConfigPath, "<vms>\n<vm name='a'/>\n<vm name='a'/>\n</vms>\n");
        var stick = _directory.PathOf("no-such-stick.img");

        var result = LuksVirtCli.Run(["usb", stick, "--connect", TestDriver, "--config", ConfigPath, "--state", StatePath, "--log", LogPath], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 2, result.StandardError);
        Assert.Contains($"{ConfigPath}:3: duplicate <vm name='a'>", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(stick, result.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--config")]
    [InlineData("--state")]
    [InlineData("--log")]
    public void A_fifo_as_an_input_is_refused_at_once_as_exit_2_and_no_key_file_is_touched(string option)
    {
        var fifo = _directory.PathOf("fifo");
        ToolRunner.Run("mkfifo", fifo).EnsureSuccess("mkfifo");

        // Today's contract: no input can block a run. A run that still hangs is killed by the
        // runner's timeout, which fails this test.
        var result = LuksVirtCli.Run(UnlockArguments(
            config: option == "--config" ? fifo : ConfigPath,
            state: option == "--state" ? fifo : StatePath,
            log: option == "--log" ? fifo : LogPath), TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 2, result.StandardError);
        Assert.Contains(fifo, result.StandardError, StringComparison.Ordinal);
        Assert.Contains("is a FIFO, not a regular file", result.StandardError, StringComparison.Ordinal);
        AssertKeyFileUntouched();
    }

    [Fact]
    public void A_log_path_that_is_a_symlink_is_refused_and_its_target_never_written()
    {
        var victim = _directory.PathOf("victim");
        File.WriteAllText(victim, "precious\n");
        File.SetUnixFileMode(victim, (UnixFileMode)0b110_100_100);   // 0644
        File.CreateSymbolicLink(LogPath, victim);

        var result = Unlock();

        Assert.True(result.ExitCode == 2, result.StandardError);
        Assert.Contains($"{LogPath} is a symbolic link", result.StandardError, StringComparison.Ordinal);
        Assert.Equal("precious\n", File.ReadAllText(victim));
        AssertKeyFileUntouched();
    }

    [Fact]
    public void A_log_readable_by_others_is_refused_for_lock_too()
    {
        File.WriteAllText(LogPath, "");
        File.SetUnixFileMode(LogPath, (UnixFileMode)0b110_100_100);   // 0644

        var unlock = Unlock();
        var lockResult = LuksVirtCli.Run(["lock", "--connect", TestDriver, "--config", ConfigPath, "--log", LogPath], TimeSpan.FromSeconds(60));

        Assert.True(unlock.ExitCode == 2, unlock.StandardError);
        Assert.True(lockResult.ExitCode == 2, lockResult.StandardError);
        Assert.Contains("chmod 0600", unlock.StandardError, StringComparison.Ordinal);
        Assert.Contains("chmod 0600", lockResult.StandardError, StringComparison.Ordinal);
        Assert.Equal(0, new FileInfo(LogPath).Length);
        AssertKeyFileUntouched();
    }

    [Fact]
    public void Watch_does_not_start_with_a_symlinked_log()
    {
        var victim = _directory.PathOf("victim");
        File.WriteAllText(victim, "precious\n");
        File.CreateSymbolicLink(LogPath, victim);

        var result = LuksVirtCli.Run(["watch", "--connect", TestDriver, "--config", ConfigPath, "--state", StatePath, "--log", LogPath], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 2, result.StandardError);
        Assert.Contains($"{LogPath} is a symbolic link", result.StandardError, StringComparison.Ordinal);
        Assert.Equal("precious\n", File.ReadAllText(victim));
    }

    [Fact]
    public void Watch_does_not_start_with_a_key_directory_open_to_others_and_names_the_fix()
    {
        var keys = _directory.PathOf("open-keys");
        Directory.CreateDirectory(keys);
        File.SetUnixFileMode(keys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);

        var open = LuksVirtCli.Run(["watch", "--connect", TestDriver, "--config", ConfigPath, "--state", StatePath, "--log", LogPath, "--keys", keys], TimeSpan.FromSeconds(60));
        var missing = LuksVirtCli.Run(["watch", "--connect", TestDriver, "--config", ConfigPath, "--state", StatePath, "--log", LogPath, "--keys", _directory.PathOf("no-such-keys")], TimeSpan.FromSeconds(60));

        Assert.True(open.ExitCode == 2, open.StandardError);
        Assert.Contains($"--keys: key directory {keys}", open.StandardError, StringComparison.Ordinal);
        Assert.Contains("chmod", open.StandardError, StringComparison.Ordinal);
        Assert.True(missing.ExitCode == 2, missing.StandardError);
        Assert.Contains("does not exist", missing.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task A_run_waiting_for_the_run_lock_names_the_holder_and_ends_cleanly_on_a_signal(string signal)
    {
        using var holder = FlockHolder.Start(RunLockPath);
        var (file, prefix) = LuksVirtCli.Command();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in prefix.Concat(UnlockArguments()))
        {
            start.ArgumentList.Add(argument);
        }

        var stderr = new StringBuilder();
        var waiting = new TaskCompletionSource();
        using var process = new Process { StartInfo = start };
        process.ErrorDataReceived += (_, line) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(line.Data);
            }

            if (line.Data?.Contains("waiting for the run lock", StringComparison.Ordinal) == true)
            {
                waiting.TrySetResult();
            }
        };
        process.Start();
        process.BeginErrorReadLine();
        _ = process.StandardOutput.ReadToEndAsync();
        try
        {
            await waiting.Task.WaitAsync(TimeSpan.FromSeconds(50));
            ToolRunner.Run("kill", $"-{signal}", process.Id.ToString(CultureInfo.InvariantCulture)).EnsureSuccess("kill");
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(deadline.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var text = stderr.ToString();
        Assert.True(process.ExitCode == 1, text);
        Assert.Contains($"held by PID {holder.Pid} (flock ", text, StringComparison.Ordinal);
        Assert.Contains("interrupted while waiting for the run lock; nothing was changed", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
        Assert.Contains("waiting for the run lock", File.ReadAllText(LogPath), StringComparison.Ordinal);
        AssertKeyFileUntouched();
    }

    [Fact]
    public void Log_lines_that_cannot_be_written_are_reported_once_at_the_end()
    {
        var mountPoint = _directory.PathOf("full");
        Directory.CreateDirectory(mountPoint);
        ToolRunner.Run("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "luksvirt-test", mountPoint).EnsureSuccess("mount tmpfs");
        try
        {
            var log = Path.Combine(mountPoint, "luksvirt.log");
            File.WriteAllText(log, "");
            File.SetUnixFileMode(log, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            // Fill the file system: every append to the log now fails with ENOSPC.
            ToolRunner.Run("dd", "if=/dev/zero", $"of={Path.Combine(mountPoint, "filler")}", "bs=4k");

            var result = LuksVirtCli.Run(["lock", "--connect", TestDriver, "--config", ConfigPath, "--log", log], TimeSpan.FromSeconds(60));

            Assert.True(result.ExitCode == 0, result.StandardError);
            var warnings = result.StandardError.Split('\n').Where(l => l.Contains("could not be written to the log file", StringComparison.Ordinal)).ToList();
            var warning = Assert.Single(warnings);
            Assert.Contains(log, warning, StringComparison.Ordinal);
            Assert.Contains("No space left on device", warning, StringComparison.Ordinal);
        }
        finally
        {
            ToolRunner.Run("umount", mountPoint).EnsureSuccess("umount tmpfs");
        }
    }

    private string[] UnlockArguments(string? config = null, string? state = null, string? log = null, params string[] extra) =>
        ["unlock", "--keys", KeyDirectory, "--connect", TestDriver, "--config", config ?? ConfigPath, "--state", state ?? StatePath, "--log", log ?? LogPath, .. extra];

    private ToolResult Unlock(params string[] extra) => LuksVirtCli.Run(UnlockArguments(extra: extra), TimeSpan.FromSeconds(60));

    private void AssertKeyFileUntouched()
    {
        Assert.True(File.Exists(KeyFile), "the key file was deleted");
        Assert.Equal(_keyBytes, File.ReadAllBytes(KeyFile));
    }
}
