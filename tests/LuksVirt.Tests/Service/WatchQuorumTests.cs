using System.Diagnostics;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Quorum;
using LuksVirt.Tests.Unlock;
using LuksVirt.Tests.Usb;
using Xunit.Abstractions;

namespace LuksVirt.Tests.Service;

/// <summary>
/// Quorum shares brought to <c>luksvirt watch</c> one stick at a time (FAT images plugged in with
/// losetup: real uevents), against real libvirtd and QEMU: the guest starts on the k-th holder's
/// stick and not before, the window's expiry wipes the shares so the next stick counts afresh,
/// and a watch killed with SIGKILL mid-quorum leaves no share anywhere on the host.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class WatchQuorumTests(LibvirtdFixture libvirtd, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly string[] Holders = ["alice", "bob", "carol"];
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public async Task The_guest_starts_on_the_second_holders_stick_and_not_on_the_first()
    {
        var (guest, shares) = QuorumGuests.Define(_scenario, "wq", Holders, threshold: 2);
        var alice = ShareStick("alice.img", shares["alice"]);
        var carol = ShareStick("carol.img", shares["carol"]);
        using var watch = StartWatch();
        await watch.WaitReadyAsync(Bound);

        using var first = LoopDevice.Attach(alice.Path);
        var waiting = await watch.WaitForLineAsync("quorum not met: ", Bound);
        await watch.WaitForLineAsync($"{first.Name}: unlock finished", Bound);

        Assert.Contains("1 of 2 holders present (alice), waiting for bob or carol, 15 min left", watch.Lines[waiting], StringComparison.Ordinal);
        Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
        Assert.Contains("1 of 2 holders present (alice), waiting for bob or carol, 15 min left", Assert.Single(StatusQuorumWaiting()), StringComparison.Ordinal);

        var clock = Stopwatch.StartNew();
        using var second = LoopDevice.Attach(carol.Path);
        await watch.WaitForGuestsAsync(libvirtd, DomainState.Running, Bound, guest);
        output.WriteLine($"from the second share's stick attached to the guest running: {clock.Elapsed.TotalSeconds:0.00} s");
        var finished = await watch.WaitForLineAsync($"{second.Name}: unlock finished", Bound);

        Assert.Contains("(1 started, 0 already running)", watch.Lines[finished], StringComparison.Ordinal);
        Assert.DoesNotContain(watch.Lines.Skip(waiting + 1), l => l.Contains("quorum not met", StringComparison.Ordinal));
        Assert.Empty(StatusQuorumWaiting());
        Assert.Equal(0, watch.Terminate(Bound));
        Assert.DoesNotContain(watch.Lines, l => l.Contains("quorum share(s) wiped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_share_dropped_into_the_key_directory_and_one_on_a_stick_add_up_to_the_quorum()
    {
        var (guest, shares) = QuorumGuests.Define(_scenario, "wqd", Holders, threshold: 2);
        var carol = ShareStick("carol.img", shares["carol"]);
        using var watch = StartWatch("--keys", _scenario.KeyDirectory);
        await watch.WaitReadyAsync(Bound);

        QuorumGuests.Present(_scenario, shares["alice"]);   // e.g. copied in over SSH
        var waiting = await watch.WaitForLineAsync("quorum not met: ", Bound);
        await watch.WaitForLineAsync($"key directory {_scenario.KeyDirectory}: unlock finished", Bound);
        Assert.Contains("1 of 2 holders present (alice), waiting for bob or carol", watch.Lines[waiting], StringComparison.Ordinal);
        Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_scenario.KeyDirectory));

        using var stick = LoopDevice.Attach(carol.Path);
        await watch.WaitForGuestsAsync(libvirtd, DomainState.Running, Bound, guest);
        var finished = await watch.WaitForLineAsync($"{stick.Name}: unlock finished", Bound);

        Assert.Contains("(1 started, 0 already running)", watch.Lines[finished], StringComparison.Ordinal);
        Assert.Equal(0, watch.Terminate(Bound));
    }

    [Fact]
    public async Task An_expired_window_wipes_the_shares_and_the_next_stick_starts_a_fresh_count()
    {
        var (guest, shares) = QuorumGuests.Define(_scenario, "wqx", Holders, threshold: 2);
        var alice = ShareStick("alice.img", shares["alice"]);
        var bob = ShareStick("bob.img", shares["bob"]);
        using var watch = StartWatch("--quorum-window", "3s");
        await watch.WaitReadyAsync(Bound);

        using (var first = LoopDevice.Attach(alice.Path))
        {
            await watch.WaitForLineAsync("1 of 2 holders present (alice)", Bound);
        }

        var expired = await watch.WaitForLineAsync("quorum window", Bound);
        Assert.Contains("expired: 1 share(s) wiped", watch.Lines[expired], StringComparison.Ordinal);

        using var second = LoopDevice.Attach(bob.Path);
        var waiting = await watch.WaitForLineAsync("quorum not met: ", Bound, from: expired);
        await watch.WaitForLineAsync($"{second.Name}: unlock finished", Bound, from: expired);

        Assert.Contains("1 of 2 holders present (bob), waiting for alice or carol", watch.Lines[waiting], StringComparison.Ordinal);
        Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
        Assert.Equal(0, watch.Terminate(Bound));
        Assert.Contains(watch.Lines, l => l.Contains("watch stopping: 1 quorum share(s) wiped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_lock_by_another_process_wipes_the_shares_and_the_next_stick_starts_a_fresh_count()
    {
        var (guest, shares) = QuorumGuests.Define(_scenario, "wql", Holders, threshold: 2);
        var alice = ShareStick("alice.img", shares["alice"]);
        var bob = ShareStick("bob.img", shares["bob"]);
        using var watch = StartWatch();
        await watch.WaitReadyAsync(Bound);

        using (var first = LoopDevice.Attach(alice.Path))
        {
            await watch.WaitForLineAsync($"{first.Name}: unlock finished", Bound);
        }

        Assert.Single(StatusQuorumWaiting());
        Assert.Equal(0, _scenario.Lock().ExitCode);
        var wiped = await watch.WaitForLineAsync("luksvirt lock ran: 1 quorum share(s) wiped", Bound);
        Assert.Empty(StatusQuorumWaiting());

        using var second = LoopDevice.Attach(bob.Path);
        var waiting = await watch.WaitForLineAsync("quorum not met: ", Bound, from: wiped);
        await watch.WaitForLineAsync($"{second.Name}: unlock finished", Bound, from: wiped);

        Assert.Contains("1 of 2 holders present (bob), waiting for alice or carol", watch.Lines[waiting], StringComparison.Ordinal);
        Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
        Assert.Equal(0, watch.Terminate(Bound));
    }

    [Fact]
    public async Task A_watch_killed_mid_quorum_leaves_no_share_on_the_host()
    {
        var (guest, shares) = QuorumGuests.Define(_scenario, "wqk", Holders, threshold: 2);
        var shareBytes = File.ReadAllBytes(shares["bob"]);
        var alice = ShareStick("bob.img", shares["bob"]);
        var scanner = new KeyLeakScanner([_scenario.NewKeyFrom("bob", shareBytes)]);
        var excluded = new HashSet<string>(shares.Values) { alice.Path };

        using (var watch = StartWatch())
        {
            await watch.WaitReadyAsync(Bound);
            using var stick = LoopDevice.Attach(alice.Path);
            await watch.WaitForLineAsync("1 of 2 holders present (bob)", Bound);
            Assert.Empty(scanner.ScanProcesses());
        }   // SIGKILL

        Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
        Assert.Empty(scanner.ScanFiles(KeyLeakScanner.HostRoots, excluded));
        Assert.Empty(StatusQuorumWaiting());   // the killed service's shares died with it
    }

    /// <summary>What <c>luksvirt status --json</c> says the watch waits for.</summary>
    private List<string> StatusQuorumWaiting()
    {
        var status = LuksVirtCli.Run(["status", "--json", "--config", _scenario.ConfigPath, "--state", _scenario.StatePath]);
        Assert.True(status.ExitCode == 0, status.StandardError + status.StandardOutput);
        return [.. UnlockScenario.Json(status).GetProperty("quorumWaiting").EnumerateArray().Select(e => e.GetString()!)];
    }

    /// <summary>A stick holding one holder's share file under its own name.</summary>
    private KeyStickImage ShareStick(string name, string shareFile) =>
        new KeyStickImage(_scenario.Directory.PathOf(name)).Add(Path.GetFileName(shareFile), File.ReadAllBytes(shareFile));

    private WatchProcess StartWatch(params string[] extra) =>
        WatchProcess.Start(_scenario.Directory, ["--device-filter", "loop", "--tang-retry", "0", .. _scenario.ScopeArguments(), .. extra]);
}
