using System.Diagnostics;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Unlock;

/// <summary>Leaks, interruption and bad configuration (reliability.md "Security" 1, 2, 6, 7;
/// "Bad input" 1-6 and 11 as the unlock command reports them).</summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class UnlockSafetyTests(LibvirtdFixture libvirtd) : IDisposable
{
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public async Task No_key_reaches_any_command_line_environment_log_or_file()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var wrong = s.NewKey("mallory");
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("leak"),
            s.Guests.CreateDisk("leak-d0", "vda", new Dictionary<int, TestKey> { [0] = s.NewKey("recovery"), [1] = alice }));
        s.Present(wrong, "luks-mallory.1.key");   // the wrong-key path must not leak either
        s.Present(alice, "luks-alice.key");
        var scanner = new KeyLeakScanner(s.Keys);

        var (file, prefix) = LuksVirtCli.Command();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in prefix.Concat(s.UnlockArguments()))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var processHits = new List<string>();
        while (!process.WaitForExit(20))
        {
            processHits.AddRange(scanner.ScanProcesses()); // luksvirt and the QEMU it starts
        }

        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await stderr + await stdout);
        Assert.Equal(DomainState.Running, s.Guests.StateOf(guest));
        processHits.AddRange(scanner.ScanProcesses()); // QEMU keeps running with the key in memory only
        Assert.Empty(processHits);
        Assert.Empty(scanner.ScanFiles([.. KeyLeakScanner.HostRoots, "/var/log/libvirt", "/etc/libvirt"], new HashSet<string>()));
        Assert.Contains("opened by key of holder 'alice'", File.ReadAllText(s.LogPath), StringComparison.Ordinal);
        Assert.False(s.Guests.HasAnySecret(guest));
    }

    [Fact]
    public async Task Sigterm_during_trials_wipes_the_keys_and_starts_nothing()
    {
        var s = _scenario;
        // A slow key derivation (about a second each here) and only wrong keys: the run is
        // still in its trials when the signal comes.
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("term"),
            s.Guests.CreateDisk("term-d0", "vda", new Dictionary<int, TestKey> { [0] = s.NewKey("owner") }, iterations: 4_000_000));
        for (var i = 0; i < 6; i++)
        {
            s.Present(s.NewKey($"wrong{i}"), $"luks-wrong{i}.key");
        }

        var (file, prefix) = LuksVirtCli.Command();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in prefix.Concat(s.UnlockArguments()))
        {
            start.ArgumentList.Add(argument);
        }

        var stderr = new System.Text.StringBuilder();
        var trialsStarted = new TaskCompletionSource();
        using var process = new Process { StartInfo = start };
        process.ErrorDataReceived += (_, line) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(line.Data);
            }

            // Logged right before the trials begin.
            if (line.Data?.Contains("unlock:", StringComparison.Ordinal) == true)
            {
                trialsStarted.TrySetResult();
            }
        };
        process.Start();
        process.BeginErrorReadLine();
        _ = process.StandardOutput.ReadToEndAsync();
        await trialsStarted.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(process.HasExited, "the run ended before the signal; make its trials slower");
        ToolRunner.Run("kill", "-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).EnsureSuccess("kill");

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(deadline.Token);
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("interrupted", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(guest));
        Assert.False(s.Guests.HasAnySecret(guest));
        Assert.Empty(Directory.EnumerateFileSystemEntries(s.KeyDirectory));
    }

    [Fact]
    public void Rejected_key_files_are_reported_by_name_and_reason()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        s.Guests.Define(EncryptedGuests.UniqueName("bad"), s.Guests.CreateDisk("bad-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        s.Present(alice, "luks-alice.1.key");
        File.WriteAllBytes(Path.Combine(s.KeyDirectory, "luks-empty.key"), []);
        File.CreateSymbolicLink(Path.Combine(s.KeyDirectory, "luks-link.key"), "/etc/hostname");
        File.WriteAllText(Path.Combine(s.KeyDirectory, "notes.txt"), "not a key");

        var result = s.Unlock();

        // The guest runs, but refused files stay behind for the administrator: exit 1.
        Assert.True(result.ExitCode == 1, result.StandardError + result.StandardOutput);
        var keys = UnlockScenario.Json(result).GetProperty("keys");
        Assert.Equal(1, keys.GetProperty("presented").GetInt32());
        var rejected = keys.GetProperty("rejected").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("reason").GetString()!);
        Assert.Contains("empty", rejected["luks-empty.key"], StringComparison.Ordinal);
        Assert.Contains("symbolic link", rejected["luks-link.key"], StringComparison.Ordinal);
        Assert.Contains("notes.txt", keys.GetProperty("ignored").EnumerateArray().Select(e => e.GetString()));
        Assert.True(File.Exists("/etc/hostname"), "the link's target must never be touched");
    }

    [Fact]
    public void Malformed_configuration_is_a_usage_error_naming_file_and_line()
    {
        File.WriteAllText(_scenario.ConfigPath, "<vms>\n  <vm name='x'>\n    <luks>\n</vms>\n");
        var key = _scenario.NewKey("alice");
        _scenario.Present(key, "luks-alice.key");

        var result = LuksVirtCli.Run("unlock", "--keys", _scenario.KeyDirectory, "--config", _scenario.ConfigPath, "--state", _scenario.StatePath, "--log", _scenario.LogPath);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{_scenario.ConfigPath}:4", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Classic_configuration_is_accepted_and_its_dmcrypt_disks_refused_cleanly_without_device_mapper()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var container = s.Guests.CreateDisk("classic-d0", "vda", new Dictionary<int, TestKey> { [1] = alice });
        var link = s.Directory.PathOf("classic-d0.raw.decrypted");
        var name = EncryptedGuests.UniqueName("classic");
        s.Guests.DefinePlain(name, link);
        // The classic recipe's document; the one extension names where links may be made.
        File.WriteAllText(s.ConfigPath, $"""
            <vms allowed-image-dirs='{s.Directory.Path}'>
              <vm name='{name}'>
                <luks>
                  <disk source='{container.Path}'
                        target='{link}' />
                </luks>
              </vm>
            </vms>
            """);
        s.Present(alice, "luks-alice.1.key");

        var result = LuksVirtCli.Run("unlock", "--keys", s.KeyDirectory, "--config", s.ConfigPath, "--state", s.StatePath, "--log", s.LogPath, "--json", "--vm", name);

        var guest = UnlockScenario.Json(result).GetProperty("guests").EnumerateArray().Single();
        var disk = Assert.Single(guest.GetProperty("disks").EnumerateArray());
        Assert.Equal("DmCrypt", disk.GetProperty("backend").GetString());
        if (LuksVirt.Interop.Cryptsetup.CryptDevice.IsDeviceMapperAvailable)
        {
            Assert.Equal(0, result.ExitCode);
            Assert.Equal("/dev/mapper/luks-classic-d0.raw.decrypted", File.ResolveLinkTarget(link, false)!.FullName);
            return;
        }

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("NotStarted", guest.GetProperty("outcome").GetString());
        Assert.Equal("Refused", disk.GetProperty("outcome").GetString());
        Assert.Contains("device-mapper not available", disk.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(File.Exists(link) || Directory.Exists(link), "no link without a mapping");
    }
}
