using System.Diagnostics;
using System.Text.Json;
using LuksVirt.Core.Activation;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Logging;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Service;
using Xunit.Abstractions;

namespace LuksVirt.Tests.Unlock;

/// <summary>
/// Issue 10, items 3 and 4: a run killed at any moment (kill -9) must not leave a key in a libvirt
/// secret once LuksVirt runs again. LuksVirt's secrets are recognisable (ephemeral, private, its
/// marker); every unlock and the watch service's start remove them under the run lock; status
/// shows them; an administrator's secrets are never touched.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class LeftoverSecretTests(LibvirtdFixture libvirtd, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly UnlockScenario _scenario = new(libvirtd);
    private readonly List<Guid> _administratorsSecrets = [];

    private enum KillMoment
    {
        /// <summary>As soon as libvirt holds a secret of the run's disks (keys handed over, guest not yet running).</summary>
        SecretExists,

        /// <summary>After a random delay anywhere in the run.</summary>
        Random,
    }

    public void Dispose()
    {
        using (var connection = libvirtd.Open())
        {
            foreach (var uuid in _administratorsSecrets)
            {
                using var secret = connection.TryLookupSecretByUuid(uuid);
                secret?.Undefine();
            }
        }

        _scenario.Dispose();
    }

    [Fact]
    public void Sweep_removes_the_secrets_LuksVirt_made_and_nothing_else()
    {
        using var runLock = RunLock.Hold();
        using var connection = libvirtd.Open();
        var (persistent, unmarked) = DefineAdministratorsSecrets(connection);
        var leftover = MakeLuksVirtSecret(connection, _scenario.Directory.PathOf("gone.luks"));

        var swept = LeftoverSecrets.Sweep(connection, new ActivityLog(null, null));

        Assert.Contains(new LuksVirtSecret(leftover, _scenario.Directory.PathOf("gone.luks")), swept);
        Assert.False(Exists(connection, leftover));
        Assert.True(Exists(connection, persistent), "an administrator's persistent secret was removed");
        Assert.True(Exists(connection, unmarked), "an administrator's ephemeral private secret was removed");
        Assert.DoesNotContain(swept, s => s.Uuid == persistent || s.Uuid == unmarked);
    }

    [Fact]
    public async Task Unlock_killed_at_any_moment_leaves_no_key_in_libvirt_once_luksvirt_runs_again()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var bob = s.NewKey("bob");
        var carol = s.NewKey("carol");
        TestDisk Disk(string name, string dev, TestKey holder) => s.Guests.CreateDisk(name, dev, new Dictionary<int, TestKey> { [1] = holder });
        s.Guests.Define(EncryptedGuests.UniqueName("kill-a"), Disk("a-d0", "vda", alice), Disk("a-d1", "vdb", alice));
        s.Guests.Define(EncryptedGuests.UniqueName("kill-b"), Disk("b-d0", "vda", bob));
        s.Guests.Define(EncryptedGuests.UniqueName("kill-c"), Disk("c-d0", "vda", carol));
        var uuids = s.Guests.Guests.SelectMany(g => g.Disks).Select(d => d.SecretUuid).ToList();
        using var connection = libvirtd.Open();
        var (persistent, unmarked) = DefineAdministratorsSecrets(connection);
        var seed = Environment.TickCount;
        var random = new Random(seed);
        output.WriteLine($"random seed {seed}");

        var leftoversSeen = 0;
        var dryRunChecked = false;
        KillMoment[] moments = [KillMoment.SecretExists, KillMoment.Random, KillMoment.SecretExists, KillMoment.Random, KillMoment.Random, KillMoment.Random];
        foreach (var moment in moments)
        {
            PrepareAttempt(connection, (alice, "luks-alice.1.key"), (bob, "luks-bob.key"), (carol, "luks-carol.1.key"));
            var delay = random.Next(50, 3000);
            await KillUnlockAsync(connection, moment, uuids, delay);
            var left = uuids.Where(u => Exists(connection, u)).ToList();
            output.WriteLine($"{moment} ({delay} ms): {left.Count} secret(s) left: {string.Join(", ", left)}");
            ClearKeyDirectory();
            if (left.Count > 0)
            {
                leftoversSeen++;
                AssertStatusShows(left);
                if (!dryRunChecked)
                {
                    var dryRun = s.Unlock("--dry-run");
                    Assert.All(left, u => Assert.True(Exists(connection, u), $"a dry run removed secret {u}:\n{dryRun.StandardError}"));
                    dryRunChecked = true;
                }
            }

            var rerun = s.Unlock();

            Assert.True(rerun.ExitCode is 0 or 1, rerun.StandardError);
            Assert.All(uuids, u => Assert.False(Exists(connection, u), $"secret {u} still holds a key after the next unlock:\n{rerun.StandardError}"));
            Assert.All(left, u => Assert.Contains($"libvirt secret {u} held the key", rerun.StandardError, StringComparison.Ordinal));
        }

        Assert.True(leftoversSeen > 0, "no kill left a secret behind: the test proved nothing");
        var locked = s.Lock(timeoutSeconds: 1);
        Assert.True(locked.ExitCode == 0, locked.StandardError + locked.StandardOutput);
        Assert.All(uuids, u => Assert.False(Exists(connection, u)));
        Assert.True(Exists(connection, persistent), "an administrator's persistent secret did not survive unlock, lock and the sweep");
        Assert.True(Exists(connection, unmarked), "an administrator's ephemeral private secret did not survive unlock, lock and the sweep");
    }

    [Fact]
    public async Task The_watch_service_removes_leftover_secrets_when_it_starts()
    {
        Guid leftover;
        var container = _scenario.Directory.PathOf("watch-leftover.luks");
        using (RunLock.Hold())
        {
            using var connection = libvirtd.Open();
            leftover = MakeLuksVirtSecret(connection, container);
        }

        using var watch = WatchProcess.Start(_scenario.Directory,
            ["--log", _scenario.LogPath, "--config", _scenario.ConfigPath, "--state", _scenario.StatePath]);
        await watch.WaitReadyAsync(Bound);
        await watch.WaitForLineAsync($"libvirt secret {leftover} held the key of {container}", Bound);

        using (var connection = libvirtd.Open())
        {
            Assert.False(Exists(connection, leftover));
        }

        Assert.Equal(0, watch.Terminate(Bound));
    }

    [Fact]
    public void Status_shows_a_secret_of_LuksVirts_and_whether_a_run_may_be_using_it()
    {
        var container = _scenario.Directory.PathOf("status-leftover.luks");
        Guid uuid;
        ToolResult during;
        using (RunLock.Hold())
        {
            using var connection = libvirtd.Open();
            uuid = MakeLuksVirtSecret(connection, container);
            // A run holds the lock (this test, here): the secret may be in use, so it is no problem yet.
            during = Status();
        }

        ToolResult after;
        try
        {
            after = Status();
        }
        finally
        {
            using var connection = libvirtd.Open();
            using var secret = connection.TryLookupSecretByUuid(uuid);
            secret?.Undefine();
        }

        var inUse = KeyIn(during, uuid);
        Assert.Equal(container, inUse.GetProperty("container").GetString());
        Assert.False(inUse.GetProperty("leftover").GetBoolean());
        Assert.DoesNotContain(Problems(during), p => p.Contains(uuid.ToString(), StringComparison.Ordinal));

        // Nothing holds the lock now (unless another test's run just took it): a leftover, and a problem.
        var left = KeyIn(after, uuid);
        if (left.GetProperty("leftover").GetBoolean())
        {
            Assert.Equal(1, after.ExitCode);
            Assert.Contains(Problems(after), p => p.Contains($"virsh secret-undefine {uuid}", StringComparison.Ordinal));
        }
    }

    private ToolResult Status() =>
        LuksVirtCli.Run("status", "--config", _scenario.ConfigPath, "--state", _scenario.StatePath, "--json");

    private static JsonElement KeyIn(ToolResult status, Guid uuid) =>
        UnlockScenario.Json(status).GetProperty("keysInLibvirt").EnumerateArray()
            .Single(k => k.GetProperty("uuid").GetGuid() == uuid);

    private static List<string> Problems(ToolResult status) =>
        UnlockScenario.Json(status).GetProperty("problems").EnumerateArray().Select(p => p.GetString()!).ToList();

    /// <summary>Each disk whose secret is left shows it, running guest or not, in the report's
    /// disks and in its list of keys in libvirt.</summary>
    private void AssertStatusShows(List<Guid> left)
    {
        var status = Status();
        output.WriteLine(status.StandardOutput);
        var report = UnlockScenario.Json(status);
        var disks = _scenario.Guests.Guests
            .SelectMany(g => UnlockScenario.GuestIn(report, g).GetProperty("disks").EnumerateArray())
            .ToList();
        foreach (var uuid in left)
        {
            var disk = disks.Single(d => d.TryGetProperty("secret", out var secret) && secret.GetProperty("uuid").GetGuid() == uuid);
            Assert.Equal("KeyInLibvirt", disk.GetProperty("state").GetString());
            Assert.True(disk.GetProperty("secret").GetProperty("madeByLuksVirt").GetBoolean());
            Assert.Equal(disk.GetProperty("container").GetString(), KeyIn(status, uuid).GetProperty("container").GetString());
        }
    }

    /// <summary>Guests off, no secrets of theirs, the key directory holding exactly these keys.</summary>
    private void PrepareAttempt(LibvirtConnection connection, params (TestKey Key, string FileName)[] keys)
    {
        foreach (var guest in _scenario.Guests.Guests)
        {
            using var domain = connection.LookupDomainByName(guest.Name);
            if (domain.IsActive)
            {
                domain.Destroy();
            }
        }

        ClearKeyDirectory();
        foreach (var (key, fileName) in keys)
        {
            _scenario.Present(key, fileName);
        }
    }

    /// <summary>A kill may land while a key file is being wiped: whatever is left goes.</summary>
    private void ClearKeyDirectory()
    {
        foreach (var file in Directory.EnumerateFiles(_scenario.KeyDirectory))
        {
            File.Delete(file);
        }
    }

    private async Task KillUnlockAsync(LibvirtConnection connection, KillMoment moment, List<Guid> uuids, int delayMilliseconds)
    {
        var (file, prefix) = LuksVirtCli.Command();
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in prefix.Concat(_scenario.UnlockArguments()))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (moment == KillMoment.SecretExists)
        {
            var clock = Stopwatch.StartNew();
            while (!process.HasExited && !uuids.Any(u => Exists(connection, u)))
            {
                Assert.True(clock.Elapsed < Bound, "no secret appeared during the unlock");
                await Task.Delay(2);
            }
        }
        else
        {
            await Task.Delay(delayMilliseconds);
        }

        process.Kill();   // SIGKILL: no handler, no finally, no rollback
        await process.WaitForExitAsync();
    }

    private (Guid Persistent, Guid Unmarked) DefineAdministratorsSecrets(LibvirtConnection connection)
    {
        // A persistent, readable secret that even carries LuksVirt's description, and an
        // ephemeral, private one without it: both hold a stored value that must survive.
        var persistent = Guid.NewGuid();
        var path = _scenario.Directory.PathOf($"admin-{persistent:N}.luks");
        DefineAdministratorsSecret(connection, persistent,
            $"<secret ephemeral='no' private='no'><uuid>{persistent}</uuid><description>{SecretOwnership.DescriptionMarker}{path}</description>" +
            $"<usage type='volume'><volume>{path}</volume></usage></secret>");
        var unmarked = Guid.NewGuid();
        DefineAdministratorsSecret(connection, unmarked,
            $"<secret ephemeral='yes' private='yes'><uuid>{unmarked}</uuid><description>the administrator's</description></secret>");
        return (persistent, unmarked);
    }

    private void DefineAdministratorsSecret(LibvirtConnection connection, Guid uuid, string xml)
    {
        using var secret = connection.DefineSecret(xml);
        _administratorsSecrets.Add(uuid);
        secret.SetValue("a stored passphrase"u8);
    }

    /// <summary>A secret as an unlock makes it, holding a key, left as a killed run leaves it.</summary>
    private static Guid MakeLuksVirtSecret(LibvirtConnection connection, string containerPath)
    {
        var uuid = Guid.NewGuid();
        using var key = SecretBuffer.GeneratePrintableKey();
        new NativeSecretActivator(connection).Provide(EncryptedDisk.CreateNative(containerPath, uuid, "vda", "leftover"), key);
        return uuid;
    }

    private static bool Exists(LibvirtConnection connection, Guid uuid)
    {
        using var secret = connection.TryLookupSecretByUuid(uuid);
        return secret is not null;
    }
}
