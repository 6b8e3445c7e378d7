using System.Diagnostics;
using LuksVirt.Core.KeySources.Passphrase;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Passphrases;
using LuksVirt.Tests.Unlock;
using LuksVirt.Tests.Usb;
using Xunit.Abstractions;

namespace LuksVirt.Tests.Service;

/// <summary>
/// <c>luksvirt watch --ask-password</c> against real libvirtd and QEMU, with no stick and no Tang
/// at start-up: the service posts a request through /run/systemd/ask-password naming the guests
/// that wait, answered here by <see cref="MinimalPasswordAgent"/> (the real
/// <c>systemd-tty-ask-password-agent</c> answers it in the lab, with systemd as PID 1). A wrong
/// answer is asked again and the right one starts the guests, after which no copy of the
/// passphrase is in the service's memory; the request is withdrawn when a
/// stick or another process opens them first.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class WatchPasswordAgentTests(LibvirtdFixture libvirtd, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    // Random per run: the test's own source file must not hold the passphrase the leak scan looks for.
    private readonly string _right = "typed at the console " + Guid.NewGuid().ToString("N");
    private readonly UnlockScenario _scenario = new(libvirtd);
    private readonly MinimalPasswordAgent _agent = new(Directory.CreateDirectory(PasswordAgentKeySource.SystemDirectory).FullName);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public async Task Guests_left_off_at_start_up_are_asked_for_and_the_typed_passphrase_starts_them()
    {
        var s = _scenario;
        var typed = s.NewKeyFrom("passphrase", TerminalSession.Typed(_right));
        var recovery = s.NewKey("recovery");
        var db = s.Guests.Define(EncryptedGuests.UniqueName("wpdb"), s.Guests.CreateDisk("wpdb-d0", "vda", new Dictionary<int, TestKey> { [0] = recovery, [1] = typed }));
        var web = s.Guests.Define(EncryptedGuests.UniqueName("wpweb"), s.Guests.CreateDisk("wpweb-d0", "vda", new Dictionary<int, TestKey> { [0] = recovery, [3] = typed }));
        var guests = string.Join(", ", new[] { db.Name, web.Name }.Order(StringComparer.Ordinal));

        using var watch = StartWatch("--ask-password");
        await watch.WaitReadyAsync(Bound);
        var first = await _agent.WaitForRequestAsync($"passphrase for guests {guests}:");
        Assert.Contains(watch.Lines, l => l.Contains($"guests {guests} wait for a key: passphrase asked", StringComparison.Ordinal));
        MinimalPasswordAgent.Answer(first, TerminalSession.Typed("not it"));
        var again = await _agent.WaitForRequestAsync($"passphrase for guests {guests} (attempt 2 of 3):");
        Assert.StartsWith("That passphrase opened nothing more.", again.Message, StringComparison.Ordinal);
        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(db));

        var clock = Stopwatch.StartNew();
        MinimalPasswordAgent.Answer(again, typed.Secret.Span);
        await watch.WaitForGuestsAsync(libvirtd, DomainState.Running, Bound, db, web);
        output.WriteLine($"from the answer to both guests running: {clock.Elapsed.TotalSeconds:0.00} s");
        var finished = await watch.WaitForLineAsync("password agent: unlock finished: 2/2", Bound);

        Assert.Contains("(2 started, 0 already running)", watch.Lines[finished], StringComparison.Ordinal);
        await watch.WaitForLineAsync("the passphrase started every guest in scope; nothing more is asked", Bound, from: finished);
        Assert.DoesNotContain(_agent.Pending(), r => r.Message.Contains(db.Name, StringComparison.Ordinal));

        // The run is over (the asking task heard so): no copy of the passphrase is left anywhere
        // in the memory of the still-running service.
        var scan = new ProcessMemoryScanner([typed]).Scan(watch.ProcessId);
        Assert.Empty(scan.Hits);
        Assert.True(scan.BytesScanned > 16L * 1024 * 1024, $"only {scan.BytesScanned} bytes of the watch's memory were read");
        Assert.Equal(0, watch.Terminate(Bound));
        output.WriteLine(watch.Log);
        Assert.DoesNotContain(_right, watch.Log, StringComparison.Ordinal);
        Assert.DoesNotContain(_right, File.ReadAllText(s.LogPath), StringComparison.Ordinal);
        Assert.Empty(new KeyLeakScanner([typed]).ScanFiles(KeyLeakScanner.HostRoots, new HashSet<string>()));
    }

    [Fact]
    public async Task The_request_is_withdrawn_when_a_stick_opens_the_guests_first()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var typed = s.NewKeyFrom("passphrase", TerminalSession.Typed(_right));
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("wpstick"), s.Guests.CreateDisk("wpstick-d0", "vda", new Dictionary<int, TestKey> { [1] = alice, [2] = typed }));
        var stick = new KeyStickImage(s.Directory.PathOf("alice.img")).Add("luks-alice.1.key", alice.Secret.Span);

        using var watch = StartWatch("--ask-password");
        await watch.WaitReadyAsync(Bound);
        var request = await _agent.WaitForRequestAsync($"passphrase for guests {guest.Name}:");

        using var loop = LoopDevice.Attach(stick.Path);
        await watch.WaitForGuestsAsync(libvirtd, DomainState.Running, Bound, guest);
        await watch.WaitForLineAsync("passphrase request withdrawn: every guest in scope runs", Bound);

        Assert.False(File.Exists(request.Path), "the ask file is gone once the stick started the guest");
        Assert.False(File.Exists(request.Socket), "and so is its socket");
        Assert.Equal(0, watch.Terminate(Bound));
    }

    [Fact]
    public async Task The_request_is_withdrawn_when_another_process_opens_the_guests()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("wpother"), s.Guests.CreateDisk("wpother-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));

        using var watch = StartWatch("--ask-password");
        await watch.WaitReadyAsync(Bound);
        var request = await _agent.WaitForRequestAsync($"passphrase for guests {guest.Name}:");

        s.Present(alice, "luks-alice.1.key");
        var unlock = s.Unlock("--no-tang");
        Assert.True(unlock.ExitCode == 0, unlock.StandardError + unlock.StandardOutput);
        await watch.WaitForLineAsync("passphrase request withdrawn: every guest in scope runs", Bound);

        Assert.False(File.Exists(request.Path), "the ask file is gone once another process started the guest");
        Assert.Equal(0, watch.Terminate(Bound));
    }

    private WatchProcess StartWatch(params string[] extra) =>
        WatchProcess.Start(_scenario.Directory, ["--device-filter", "loop", .. _scenario.ScopeArguments(), .. extra]);
}
