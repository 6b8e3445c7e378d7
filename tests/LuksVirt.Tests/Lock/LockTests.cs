using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Unlock;
using Xunit.Abstractions;

namespace LuksVirt.Tests.Lock;

/// <summary>
/// <c>luksvirt lock</c> as a separate process against real libvirtd and QEMU (issue 10, items 4,
/// 11 and 23). The guests have no OS: they sit in their firmware and ignore the ACPI power-off
/// request, so every one of them runs into its timeout and is destroyed.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class LockTests(LibvirtdFixture libvirtd, ITestOutputHelper output) : IDisposable
{
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    /// <summary>Item 11: the guests go down side by side, every one asked before the first is
    /// destroyed; the outcome is that of a lock one by one: all destroyed, nothing left open.</summary>
    [Fact]
    public void Guests_that_ignore_acpi_are_all_asked_at_once_then_destroyed_and_nothing_stays_unlocked()
    {
        var guests = RunningGuests(4);

        var locked = _scenario.Lock(timeoutSeconds: 2);

        Assert.True(locked.ExitCode == 0, locked.StandardError + locked.StandardOutput);
        var report = UnlockScenario.Json(locked);
        foreach (var guest in guests)
        {
            var entry = UnlockScenario.GuestIn(report, guest);
            Assert.Equal("Destroyed", entry.GetProperty("outcome").GetString());
            Assert.Equal("Shutoff", entry.GetProperty("stateAfter").GetString());
            Assert.All(entry.GetProperty("disks").EnumerateArray(), d => Assert.Equal("AlreadyLocked", d.GetProperty("outcome").GetString()));
            Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
            Assert.False(_scenario.Guests.HasAnySecret(guest));
        }

        var lines = LockLogLines();
        var lastRequest = lines.FindLastIndex(l => l.Contains("ACPI shutdown requested", StringComparison.Ordinal));
        var firstDestroy = lines.FindIndex(l => l.Contains("destroying it", StringComparison.Ordinal));
        Assert.True(lastRequest >= 0 && firstDestroy > lastRequest,
            "a guest was destroyed before every guest had been asked to power off:\n" + string.Join('\n', lines));
    }

    /// <summary>Item 11: where start groups exist, a group goes down only once the group that
    /// started after it is off (the later guests may depend on the earlier ones).</summary>
    [Fact]
    public void Start_groups_go_down_in_reverse_start_order()
    {
        var guests = RunningGuests(3, configure: names => $"<vms>\n  <vm name='{names[0]}' order='1'/>\n</vms>\n");
        var first = guests[0].Name;

        var locked = _scenario.Lock(timeoutSeconds: 1);

        Assert.True(locked.ExitCode == 0, locked.StandardError + locked.StandardOutput);
        var order = UnlockScenario.Json(locked).GetProperty("guests").EnumerateArray().Select(g => g.GetProperty("name").GetString()).ToList();
        Assert.Equal(first, order[^1]);
        var lines = LockLogLines();
        var firstAsked = lines.FindIndex(l => l.Contains($"{first}: ACPI shutdown requested", StringComparison.Ordinal));
        foreach (var later in guests.Skip(1))
        {
            var laterLocked = lines.FindIndex(l => l.Contains($"{later.Name}: locked (", StringComparison.Ordinal));
            Assert.True(laterLocked >= 0 && firstAsked > laterLocked,
                $"{first} (order 1) was asked to power off before {later.Name} (started after it) was locked:\n" + string.Join('\n', lines));
        }
    }

    /// <summary>Item 4: an administrator's persistent secret of a disk's UUID (a stored
    /// passphrase) is reported and left alone, never removed.</summary>
    [Fact]
    public void An_administrators_persistent_secret_survives_lock_and_is_reported()
    {
        var key = _scenario.NewKey("alice");
        var disk = _scenario.Guests.CreateDisk("admin-d0", "vda", new Dictionary<int, TestKey> { [1] = key });
        var guest = _scenario.Guests.Define(EncryptedGuests.UniqueName("admin"), disk);
        using var connection = libvirtd.Open();
        using (var secret = connection.DefineSecret(
            $"<secret ephemeral='no' private='no'><uuid>{disk.SecretUuid}</uuid><description>stored by the administrator</description></secret>"))
        {
            secret.SetValue("a stored passphrase"u8);
        }

        var locked = _scenario.Lock(timeoutSeconds: 1);

        Assert.True(locked.ExitCode == 0, locked.StandardError + locked.StandardOutput);
        var reported = Assert.Single(UnlockScenario.GuestIn(UnlockScenario.Json(locked), guest).GetProperty("disks").EnumerateArray());
        Assert.Equal("SecretNotLuksVirts", reported.GetProperty("outcome").GetString());
        Assert.Contains($"virsh secret-undefine {disk.SecretUuid}", reported.GetProperty("message").GetString(), StringComparison.Ordinal);
        using var still = connection.TryLookupSecretByUuid(disk.SecretUuid);
        Assert.NotNull(still);
    }

    /// <summary>Item 23: an interrupted lock (SIGTERM while it waits for the guests) still
    /// reports every guest; none is destroyed any more, and no disk of a running guest is
    /// reported closed.</summary>
    [Fact]
    public async Task An_interrupted_lock_still_reports_every_guest()
    {
        var guests = RunningGuests(3);
        var (file, prefix) = LuksVirtCli.Command();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in prefix.Concat(
            ["lock", "--config", _scenario.ConfigPath, "--log", _scenario.LogPath, "--json", "--timeout", "120", .. _scenario.GuestArguments()]))
        {
            start.ArgumentList.Add(argument);
        }

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            lock (stdout)
            {
                stdout.AppendLine(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }

            if (e.Data?.Contains("ACPI shutdown requested", StringComparison.Ordinal) == true)
            {
                asked.TrySetResult();
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await asked.Task.WaitAsync(TimeSpan.FromSeconds(90));
            ToolRunner.Run("kill", "-TERM", process.Id.ToString(CultureInfo.InvariantCulture)).EnsureSuccess("kill -TERM");
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }

        process.WaitForExit();   // drains the readers
        output.WriteLine(stderr.ToString());
        Assert.Equal(1, process.ExitCode);
        var report = JsonDocument.Parse(stdout.ToString()).RootElement;
        Assert.Equal(guests.Count, report.GetProperty("guests").GetArrayLength());
        foreach (var guest in guests)
        {
            var entry = UnlockScenario.GuestIn(report, guest);
            Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(guest));
            Assert.Equal("Failed", entry.GetProperty("outcome").GetString());
            Assert.Contains("interrupted", entry.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.All(entry.GetProperty("disks").EnumerateArray(), d =>
                Assert.Equal(("Failed", "guest still running"), (d.GetProperty("outcome").GetString(), d.GetProperty("message").GetString())));
        }
    }

    /// <summary>Guests of one LUKS1 disk each, started by <c>luksvirt unlock</c>.</summary>
    private List<TestGuest> RunningGuests(int count, Func<IReadOnlyList<string>, string>? configure = null)
    {
        var guests = new List<TestGuest>();
        for (var i = 0; i < count; i++)
        {
            var key = _scenario.NewKey($"holder{i}");
            var disk = _scenario.Guests.CreateDisk($"g{i}-d0", "vda", new Dictionary<int, TestKey> { [1] = key });
            guests.Add(_scenario.Guests.Define(EncryptedGuests.UniqueName($"lock{i}"), disk));
            _scenario.Present(key, $"luks-holder{i}.1.key");
        }

        if (configure is not null)
        {
            File.WriteAllText(_scenario.ConfigPath, configure(guests.Select(g => g.Name).ToList()));
        }

        var unlocked = _scenario.Unlock();
        Assert.True(unlocked.ExitCode == 0, unlocked.StandardError + unlocked.StandardOutput);
        return guests;
    }

    /// <summary>The log lines of the last lock run (the log is shared with the unlock before it).</summary>
    private List<string> LockLogLines()
    {
        var lines = File.ReadAllLines(_scenario.LogPath).ToList();
        var unlockDone = lines.FindLastIndex(l => l.Contains("unlock done", StringComparison.Ordinal));
        return lines.Skip(unlockDone + 1).ToList();
    }
}
