using System.Globalization;
using System.Xml.Linq;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Unlock;
using LuksVirt.Tests.Usb;

namespace LuksVirt.Tests.Service;

/// <summary>
/// <c>luksvirt usb</c> and <c>luksvirt watch</c> as separate processes against real libvirtd and
/// QEMU, with key sticks made by mkfs.vfat and mtools and "plugged in" with losetup, which raises
/// real kernel uevents. Waits end on libvirt events, the service's READY=1 or its log lines,
/// each with a bound; never on a fixed sleep.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class UsbServiceEndToEndTests(LibvirtdFixture libvirtd) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public void Usb_command_unlocks_with_the_keys_on_an_image_and_leaves_it_unchanged()
    {
        var (db, web, alice, bob) = TwoGuests();
        var stick = Stick("stick.img", (alice, "luks-alice.1.key"), (bob, "keys/luks-bob.key"));
        var before = stick.Sha256();

        var result = LuksVirtCli.Run(["usb", stick.Path, "--json", .. _scenario.ScopeArguments()]);

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        foreach (var guest in new[] { db, web })
        {
            Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(guest));
            Assert.False(_scenario.Guests.HasAnySecret(guest));
        }

        var keys = UnlockScenario.Json(result).GetProperty("keys");
        Assert.Equal(2, keys.GetProperty("presented").GetInt32());
        Assert.False(keys.GetProperty("deleted").GetBoolean());
        Assert.Equal(["readme.txt"], keys.GetProperty("ignored").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(before, stick.Sha256());

        var again = LuksVirtCli.Run(["usb", stick.Path, "--json", .. _scenario.ScopeArguments()]);

        Assert.True(again.ExitCode == 0, again.StandardError + again.StandardOutput);
        Assert.All(UnlockScenario.Json(again).GetProperty("guests").EnumerateArray(), g => Assert.Equal("AlreadyRunning", g.GetProperty("outcome").GetString()));
        Assert.Equal(2, LuksVirtCli.Run(["usb", _scenario.Directory.PathOf("no-such-stick"), .. _scenario.ScopeArguments()]).ExitCode);
        Assert.Equal(before, stick.Sha256());
    }

    [Fact]
    public async Task Watch_unlocks_on_attach_leaks_no_key_and_a_reattached_stick_starts_nothing_twice()
    {
        var (db, web, alice, bob) = TwoGuests();
        var stick = Stick("stick.img", (alice, "luks-alice.1.key"), (bob, "deep/er/luks-bob.2.key"));
        var before = stick.Sha256();
        var scanner = new KeyLeakScanner(_scenario.Keys);
        using var watch = StartWatch();
        await watch.WaitReadyAsync(Bound);

        // Security 1: scan every process's argv and environment, over and over, while the
        // watch reads the stick and unlocks.
        using var scanning = new CancellationTokenSource();
        var processScans = Task.Run(() =>
        {
            var hits = new List<string>();
            var scans = 0;
            while (!scanning.IsCancellationRequested)
            {
                hits.AddRange(scanner.ScanProcesses());
                scans++;
            }

            return (hits, scans);
        });

        using var loop = LoopDevice.Attach(stick.Path);
        await watch.WaitForGuestsAsync(libvirtd, DomainState.Running, Bound, db, web);
        var finished = await watch.WaitForLineAsync($"{loop.Name}: unlock finished", Bound);
        await scanning.CancelAsync();
        var (processHits, scans) = await processScans;

        Assert.Empty(processHits);
        Assert.True(scans >= 2, $"only {scans} scan(s) of /proc ran during the unlock");
        Assert.Contains("(2 started, 0 already running)", watch.Lines[finished], StringComparison.Ordinal);
        var ids = new[] { DomainId(db), DomainId(web) };

        loop.Detach();
        var removed = await watch.WaitForLineAsync($"{loop.Name}: medium removed", Bound, from: finished);
        Assert.Single(watch.Lines.Take(removed), l => l.Contains("unlock finished", StringComparison.Ordinal));
        using var again = LoopDevice.Attach(stick.Path);
        var second = await watch.WaitForLineAsync($"{again.Name}: unlock finished", Bound, from: removed);

        Assert.Contains("(0 started, 2 already running)", watch.Lines[second], StringComparison.Ordinal);
        foreach (var guest in new[] { db, web })
        {
            Assert.Contains(watch.Lines.Skip(removed), l => l.Contains($"{guest.Name}: already running, nothing to do", StringComparison.OrdinalIgnoreCase));
        }

        Assert.Equal(ids, new[] { DomainId(db), DomainId(web) });   // not restarted
        again.Detach();
        Assert.Equal(0, watch.Terminate(Bound));

        // Security 2 and 10: no key in any file, the stick untouched.
        Assert.Empty(scanner.ScanFiles(KeyLeakScanner.HostRoots, new HashSet<string> { stick.Path }));
        Assert.Equal(before, stick.Sha256());
    }

    [Fact]
    public async Task Lock_on_removal_locks_the_guests_when_the_unlocking_stick_is_detached()
    {
        var (db, web, alice, bob) = TwoGuests();
        var stick = Stick("stick.img", (alice, "luks-alice.key"), (bob, "luks-bob.key"));
        using var watch = StartWatch(abstractNotifySocket: true, "--lock-on-removal", "--lock-timeout", "1");
        await watch.WaitReadyAsync(Bound);

        using var loop = LoopDevice.Attach(stick.Path);
        await watch.WaitForGuestsAsync(libvirtd, DomainState.Running, Bound, db, web);
        var finished = await watch.WaitForLineAsync($"{loop.Name}: unlock finished", Bound);
        loop.Detach();

        await watch.WaitForGuestsAsync(libvirtd, DomainState.Shutoff, Bound, db, web);
        var locked = await watch.WaitForLineAsync($"{loop.Name}: lock finished", Bound, from: finished);
        Assert.Contains("all locked", watch.Lines[locked], StringComparison.Ordinal);
        Assert.False(_scenario.Guests.HasAnySecret(db));
    }

    [Fact]
    public async Task A_stick_attached_during_an_unlock_is_handled_right_after_it()
    {
        var (db, web, alice, bob) = TwoGuests();
        var first = Stick("alice.img", (alice, "luks-alice.1.key"));
        var second = Stick("bob.img", (bob, "luks-bob.2.key"));
        using var watch = StartWatch();
        await watch.WaitReadyAsync(Bound);

        using var one = LoopDevice.Attach(first.Path);
        await watch.WaitForLineAsync($"{one.Name}: 1 key(s) read", Bound);
        using var two = LoopDevice.Attach(second.Path);
        await watch.WaitForGuestsAsync(libvirtd, DomainState.Running, Bound, db, web);

        var oneFinished = await watch.WaitForLineAsync($"{one.Name}: unlock finished", Bound);
        var twoAppeared = await watch.WaitForLineAsync($"{two.Name}: medium appeared", Bound);
        var twoRead = await watch.WaitForLineAsync($"{two.Name}: 1 key(s) read", Bound);
        var twoFinished = await watch.WaitForLineAsync($"{two.Name}: unlock finished", Bound);
        Assert.True(twoAppeared < oneFinished, "the second stick arrived after the first unlock had ended:\n" + watch.Log);
        Assert.True(twoRead > oneFinished, "the second stick was read while the first unlock ran:\n" + watch.Log);
        Assert.Contains("(1 started, 0 already running)", watch.Lines[oneFinished], StringComparison.Ordinal);
        Assert.Contains("(1 started, 1 already running)", watch.Lines[twoFinished], StringComparison.Ordinal);
    }

    /// <summary>Two guests; every container has a never-presented recovery key in slot 0.</summary>
    private (TestGuest Db, TestGuest Web, TestKey Alice, TestKey Bob) TwoGuests()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var bob = s.NewKey("bob");
        var db = s.Guests.Define(EncryptedGuests.UniqueName("db"),
            s.Guests.CreateDisk("db-d0", "vda", new Dictionary<int, TestKey> { [0] = s.NewKey("recovery"), [1] = alice }));
        var web = s.Guests.Define(EncryptedGuests.UniqueName("web"),
            s.Guests.CreateDisk("web-d0", "vda", new Dictionary<int, TestKey> { [0] = s.NewKey("recovery"), [2] = bob }));
        return (db, web, alice, bob);
    }

    private KeyStickImage Stick(string name, params (TestKey Key, string PathOnStick)[] keys)
    {
        var stick = new KeyStickImage(_scenario.Directory.PathOf(name)).Add("readme.txt", "this stick opens the lab's guests\n"u8);
        foreach (var (key, path) in keys)
        {
            stick.Add(path, key.Secret.Span);
        }

        return stick;
    }

    private WatchProcess StartWatch(params string[] extra) => StartWatch(abstractNotifySocket: false, extra);

    private WatchProcess StartWatch(bool abstractNotifySocket, params string[] extra) =>
        WatchProcess.Start(_scenario.Directory, ["--device-filter", "loop", .. _scenario.ScopeArguments(), .. extra], abstractNotifySocket);

    /// <summary>The running domain's id: a restart would give it a new one.</summary>
    private int DomainId(TestGuest guest)
    {
        using var connection = libvirtd.Open();
        using var domain = connection.LookupDomainByName(guest.Name);
        return int.Parse(XDocument.Parse(domain.GetXml()).Root!.Attribute("id")!.Value, CultureInfo.InvariantCulture);
    }
}
