using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Tang;
using LuksVirt.Tests.Unlock;
using LuksVirt.Tests.Usb;
using Xunit.Abstractions;

namespace LuksVirt.Tests.Service;

/// <summary>
/// <c>luksvirt watch</c> with disks bound to a real Tang server by Debian's <c>clevis luks bind</c>,
/// against real libvirtd and QEMU: with the server down at start-up the guest stays off and the
/// bindings are tried again with backoff until the server comes up, then the guest starts with
/// nobody present; a guest with one Tang-bound disk and one stick-only disk starts when the stick
/// comes.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class WatchTangTests(LibvirtdFixture libvirtd, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public async Task A_server_that_comes_up_after_the_watch_opens_the_bound_guest_with_nobody_present()
    {
        using var server = new TangServer();
        var guest = _scenario.Guests.Define(EncryptedGuests.UniqueName("late"), ClevisBind.TangBoundDisk(_scenario, "late-d0", "vda", server));
        server.Stop();

        using var watch = StartWatch();
        await watch.WaitReadyAsync(Bound);
        var retry = await watch.WaitForLineAsync("Tang: 1 of 1 binding(s) gave no key; trying again in 2 s", Bound);
        Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
        Assert.Contains(watch.Lines.Take(retry), l => l.Contains(server.Url, StringComparison.Ordinal) && l.Contains("late-d0", StringComparison.Ordinal));
        output.WriteLine(watch.Log);

        server.Restart();
        await watch.WaitForGuestsAsync(libvirtd, DomainState.Running, Bound, guest);
        var finished = await watch.WaitForLineAsync("Tang: unlock finished", Bound, from: retry);

        Assert.Contains("(1 started, 0 already running)", watch.Lines[finished], StringComparison.Ordinal);
        Assert.Equal(0, watch.Terminate(Bound));
    }

    [Fact]
    public async Task A_guest_with_a_tang_bound_disk_and_a_stick_only_disk_starts_when_the_stick_comes()
    {
        using var server = new TangServer();
        var alice = _scenario.NewKey("alice");
        var guest = _scenario.Guests.Define(EncryptedGuests.UniqueName("mixed"),
            ClevisBind.TangBoundDisk(_scenario, "mixed-d0", "vda", server),
            _scenario.Guests.CreateDisk("mixed-d1", "vdb", new Dictionary<int, TestKey> { [1] = alice }));
        var stick = new KeyStickImage(_scenario.Directory.PathOf("alice.img")).Add("luks-alice.1.key", alice.Secret.Span);

        using var watch = StartWatch();
        await watch.WaitReadyAsync(Bound);
        var atStart = await watch.WaitForLineAsync("Tang: unlock finished", Bound);
        Assert.Contains("0/1 guest(s) running", watch.Lines[atStart], StringComparison.Ordinal);
        Assert.DoesNotContain(watch.Lines, l => l.Contains("trying again", StringComparison.Ordinal));

        using var loop = LoopDevice.Attach(stick.Path);
        await watch.WaitForGuestsAsync(libvirtd, DomainState.Running, Bound, guest);
        var finished = await watch.WaitForLineAsync($"{loop.Name}: unlock finished", Bound);

        Assert.Contains("(1 started, 0 already running)", watch.Lines[finished], StringComparison.Ordinal);
        Assert.Equal(0, watch.Terminate(Bound));
    }

    private WatchProcess StartWatch(params string[] extra) =>
        WatchProcess.Start(_scenario.Directory, ["--device-filter", "loop", .. _scenario.ScopeArguments(), .. extra]);
}
