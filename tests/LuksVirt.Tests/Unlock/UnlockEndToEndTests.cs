using System.Text.Json;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Unlock;

/// <summary>
/// <c>luksvirt unlock</c>, <c>status</c> and <c>lock</c> as separate processes against real
/// libvirtd and QEMU (native backend: QEMU opens the LUKS1 containers itself).
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class UnlockEndToEndTests(LibvirtdFixture libvirtd) : IDisposable
{
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    /// <summary>3 guests, 4 disks (web has two); every container has a recovery key in slot 0
    /// that is never presented, and the holder's key in a higher slot.</summary>
    private (TestGuest Db, TestGuest Web, TestGuest Mail, TestKey Alice, TestKey Bob, TestKey Carol) ThreeGuests()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var bob = s.NewKey("bob");
        var carol = s.NewKey("carol");
        TestDisk Disk(string name, string dev, int slot, TestKey holder) =>
            s.Guests.CreateDisk(name, dev, new Dictionary<int, TestKey> { [0] = s.NewKey("recovery"), [slot] = holder });
        var db = s.Guests.Define(EncryptedGuests.UniqueName("db"), Disk("db-d0", "vda", 1, alice));
        var web = s.Guests.Define(EncryptedGuests.UniqueName("web"), Disk("web-d0", "vda", 2, bob), Disk("web-d1", "vdb", 2, bob));
        var mail = s.Guests.Define(EncryptedGuests.UniqueName("mail"), Disk("mail-d0", "vda", 3, carol));
        return (db, web, mail, alice, bob, carol);
    }

    [Fact]
    public void Unlock_starts_every_guest_wipes_the_keys_and_a_second_run_changes_nothing()
    {
        var (db, web, mail, alice, bob, carol) = ThreeGuests();
        _scenario.Present(alice, "luks-alice.1.key");   // right hint
        _scenario.Present(bob, "luks-bob.5.key");       // wrong hint: slot 5 is empty
        _scenario.Present(carol, "luks-carol.key");     // no hint

        var result = _scenario.Unlock();

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        foreach (var guest in new[] { db, web, mail })
        {
            Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(guest));
            Assert.False(_scenario.Guests.HasAnySecret(guest), $"{guest.Name}: a libvirt secret outlived the start");
        }

        var report = UnlockScenario.Json(result);
        var webDisks = UnlockScenario.GuestIn(report, web).GetProperty("disks").EnumerateArray().ToList();
        Assert.All(webDisks, d => Assert.Equal(("Opened", "bob", 2), (d.GetProperty("outcome").GetString(), d.GetProperty("holder").GetString(), d.GetProperty("slot").GetInt32())));
        Assert.Equal("Started", UnlockScenario.GuestIn(report, mail).GetProperty("outcome").GetString());
        Assert.Empty(Directory.EnumerateFileSystemEntries(_scenario.KeyDirectory));
        Assert.True(report.GetProperty("keys").GetProperty("deleted").GetBoolean());

        var again = _scenario.Unlock();

        Assert.True(again.ExitCode == 0, again.StandardError + again.StandardOutput);
        var second = UnlockScenario.Json(again);
        Assert.All(second.GetProperty("guests").EnumerateArray(), g => Assert.Equal("AlreadyRunning", g.GetProperty("outcome").GetString()));
        Assert.Equal(0, second.GetProperty("totals").GetProperty("keyDerivations").GetInt32());
    }

    [Fact]
    public void Right_hints_cost_one_key_derivation_per_disk_and_a_dry_run_changes_nothing()
    {
        var (db, web, mail, alice, bob, carol) = ThreeGuests();
        _scenario.Present(alice, "luks-alice.1.key");
        _scenario.Present(bob, "luks-bob.2.key");
        _scenario.Present(carol, "luks-carol.3.key");

        var result = _scenario.Unlock("--dry-run");

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        var report = UnlockScenario.Json(result);
        Assert.True(report.GetProperty("totals").GetProperty("keyDerivations").GetInt32() <= 4, result.StandardOutput);
        Assert.All(report.GetProperty("guests").EnumerateArray(), g => Assert.Equal("WouldStart", g.GetProperty("outcome").GetString()));
        foreach (var guest in new[] { db, web, mail })
        {
            Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
            Assert.False(_scenario.Guests.HasAnySecret(guest));
        }

        Assert.Equal(3, Directory.GetFiles(_scenario.KeyDirectory).Length);
        Assert.False(File.Exists(_scenario.StatePath), "a dry run must not write the state file");
    }

    [Fact]
    public void A_guest_missing_one_of_its_keys_is_not_started_and_the_others_are()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var dave = s.NewKey("dave");
        var db = s.Guests.Define(EncryptedGuests.UniqueName("db"), s.Guests.CreateDisk("db-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        var web = s.Guests.Define(EncryptedGuests.UniqueName("web"),
            s.Guests.CreateDisk("web-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }),
            s.Guests.CreateDisk("web-d1", "vdb", new Dictionary<int, TestKey> { [1] = dave }));
        s.Present(alice, "luks-alice.1.key");

        var result = s.Unlock();

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(DomainState.Running, s.Guests.StateOf(db));
        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(web));
        Assert.False(s.Guests.HasAnySecret(web));
        var webReport = UnlockScenario.GuestIn(UnlockScenario.Json(result), web);
        Assert.Equal("NotStarted", webReport.GetProperty("outcome").GetString());
        var outcomes = webReport.GetProperty("disks").EnumerateArray().Select(d => d.GetProperty("outcome").GetString()).ToList();
        Assert.Equal(["LeftClosed", "NoKey"], outcomes);
    }

    [Fact]
    public void A_guest_that_fails_to_start_is_rolled_back_and_the_others_start()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var good = s.Guests.Define(EncryptedGuests.UniqueName("good"), s.Guests.CreateDisk("good-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        // Its LUKS disk opens, but a second, plain disk is missing: QEMU cannot start.
        var broken = s.Guests.Define(EncryptedGuests.UniqueName("broken"),
            $"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{s.Directory.PathOf("missing.raw")}'/><target dev='vdz' bus='virtio'/></disk>",
            s.Guests.CreateDisk("broken-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        s.Present(alice, "luks-alice.1.key");

        var result = s.Unlock();

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(DomainState.Running, s.Guests.StateOf(good));
        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(broken));
        Assert.False(s.Guests.HasAnySecret(broken), "the failed guest's key stayed in libvirt");
        var report = UnlockScenario.GuestIn(UnlockScenario.Json(result), broken);
        Assert.Equal("Failed", report.GetProperty("outcome").GetString());
        Assert.Contains("missing.raw", report.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("ClosedAgain", Assert.Single(report.GetProperty("disks").EnumerateArray()).GetProperty("outcome").GetString());
    }

    [Fact]
    public void Wrong_keys_only_start_nothing_and_say_so_per_disk()
    {
        var (db, web, mail, _, _, _) = ThreeGuests();
        _scenario.Present(_scenario.NewKey("mallory"), "luks-mallory.1.key");
        _scenario.Present(_scenario.NewKey("eve"), "luks-eve.key");

        var result = _scenario.Unlock();

        Assert.Equal(1, result.ExitCode);
        foreach (var guest in new[] { db, web, mail })
        {
            Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
            Assert.False(_scenario.Guests.HasAnySecret(guest));
        }

        var disks = UnlockScenario.Json(result).GetProperty("guests").EnumerateArray().SelectMany(g => g.GetProperty("disks").EnumerateArray()).ToList();
        Assert.Equal(4, disks.Count);
        Assert.All(disks, d =>
        {
            Assert.Equal("NoKey", d.GetProperty("outcome").GetString());
            Assert.Contains("no presented key opens it", d.GetProperty("message").GetString(), StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Lock_powers_off_and_unlock_works_again()
    {
        var (db, web, mail, alice, bob, carol) = ThreeGuests();
        void PresentAll()
        {
            _scenario.Present(alice, "luks-alice.1.key");
            _scenario.Present(bob, "luks-bob.2.key");
            _scenario.Present(carol, "luks-carol.3.key");
        }

        PresentAll();
        Assert.Equal(0, _scenario.Unlock().ExitCode);

        var locked = _scenario.Lock(timeoutSeconds: 1);

        Assert.True(locked.ExitCode == 0, locked.StandardError + locked.StandardOutput);
        foreach (var guest in new[] { db, web, mail })
        {
            Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
        }

        // The guests have no OS to answer ACPI, so the timeout ends in a destroy.
        Assert.All(UnlockScenario.Json(locked).GetProperty("guests").EnumerateArray(), g => Assert.Equal("Destroyed", g.GetProperty("outcome").GetString()));

        PresentAll();
        var again = _scenario.Unlock();
        Assert.True(again.ExitCode == 0, again.StandardError + again.StandardOutput);
        Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(web));
    }

    [Fact]
    public void Status_shows_each_disk_and_who_opened_it_last()
    {
        var (db, _, _, alice, _, _) = ThreeGuests();
        _scenario.Present(alice, "luks-alice.1.key");
        _scenario.Unlock();

        var result = LuksVirtCli.Run("status", "--config", _scenario.ConfigPath, "--state", _scenario.StatePath, "--json");

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        var guest = UnlockScenario.GuestIn(JsonDocument.Parse(result.StandardOutput).RootElement, db);
        Assert.Equal("Running", guest.GetProperty("state").GetString());
        var disk = Assert.Single(guest.GetProperty("disks").EnumerateArray());
        Assert.Equal(("InUse", "alice", 1), (disk.GetProperty("state").GetString(), disk.GetProperty("lastOpenedBy").GetString(), disk.GetProperty("lastSlot").GetInt32()));
    }

    [Fact]
    public void A_lower_start_order_runs_before_the_next_group_is_handed_its_keys()
    {
        var (db, web, mail, alice, bob, carol) = ThreeGuests();
        // mail first (order 1); db and web are unordered and start side by side after it.
        File.WriteAllText(_scenario.ConfigPath, $"<vms>\n  <vm name='{mail.Name}' order='1'/>\n</vms>\n");
        _scenario.Present(alice, "luks-alice.1.key");
        _scenario.Present(bob, "luks-bob.2.key");
        _scenario.Present(carol, "luks-carol.3.key");

        var result = _scenario.Unlock();

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        var log = File.ReadAllLines(_scenario.LogPath);
        int LineOf(string text) => Array.FindIndex(log, l => l.Contains(text, StringComparison.Ordinal));
        var mailRunning = LineOf($"{mail.Name}: running");
        Assert.True(mailRunning >= 0, string.Join('\n', log));
        foreach (var later in new[] { db, web })
        {
            Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(later));
            var handedOver = LineOf($"{later.Disks[0].Path}: key handed to libvirt secret");
            Assert.True(handedOver > mailRunning, $"{later.Name} got its key before {mail.Name} ran:\n{string.Join('\n', log)}");
        }
    }
}
