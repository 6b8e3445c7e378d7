using LuksVirt.Core.Activation;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.KeySources;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Unlock;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Unlock;

/// <summary>
/// The unlock engine's error paths (hostile review items 20-22, 25), in process against real
/// libvirtd and QEMU: real guests, real secrets, real starts. A fault is injected around the
/// real hand-over or the real start (the engine's internal seams, never an environment variable)
/// where no real fault reaches that step on a host without device-mapper.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class UnlockFaultTests(LibvirtdFixture libvirtd) : IDisposable
{
    private readonly UnlockScenario _scenario = new(libvirtd);
    private readonly StringWriter _console = new();

    public void Dispose()
    {
        _scenario.Dispose();
        _console.Dispose();
    }

    public static TheoryData<string> UnexpectedExceptions => ["UnauthorizedAccessException", "XmlException", "InvalidOperationException"];

    [Theory]
    [MemberData(nameof(UnexpectedExceptions))]
    public async Task Any_exception_while_handing_over_rolls_the_guest_back_and_the_others_still_start(string exceptionName)
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var twoDisks = s.Guests.Define(EncryptedGuests.UniqueName("two"),
            s.Guests.CreateDisk("two-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }),
            s.Guests.CreateDisk("two-d1", "vdb", new Dictionary<int, TestKey> { [1] = alice }));
        var sibling = s.Guests.Define(EncryptedGuests.UniqueName("sib"), s.Guests.CreateDisk("sib-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        var failing = twoDisks.Disks[1].Path;
        Exception Fault() => exceptionName switch
        {
            "UnauthorizedAccessException" => new UnauthorizedAccessException("injected: chown refused (EPERM)"),
            "XmlException" => new System.Xml.XmlException("injected: the secret's XML is malformed"),
            _ => new InvalidOperationException("injected: an unexpected state"),
        };

        var report = await RunAsync([alice], handover: real => new FaultyHandover(real) { HandOverFault = d => d.Disk.ContainerPath == failing ? Fault() : null });

        // The first disk's secret held alice's key in libvirtd before the fault: it is gone.
        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(twoDisks));
        Assert.False(s.Guests.HasAnySecret(twoDisks), "a secret holding a key outlived the rollback");
        var failed = Guest(report, twoDisks);
        Assert.Equal(GuestOutcome.Failed, failed.Outcome);
        Assert.Contains("injected", failed.Message, StringComparison.Ordinal);
        Assert.Equal([DiskOutcome.ClosedAgain, DiskOutcome.Failed], failed.Disks.Select(d => d.Outcome));
        Assert.Equal(DomainState.Running, s.Guests.StateOf(sibling));
        Assert.False(s.Guests.HasAnySecret(sibling));
        Assert.Equal(GuestOutcome.Started, Guest(report, sibling).Outcome);
        Assert.False(report.AllGuestsRunning);
        var savedState = File.ReadAllText(s.StatePath);
        Assert.Contains(sibling.Disks[0].Path, savedState, StringComparison.Ordinal);
        Assert.DoesNotContain(twoDisks.Disks[0].Path, savedState, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_secret_that_cannot_be_removed_after_the_start_is_a_problem_and_the_next_start_group_still_starts()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var first = s.Guests.Define(EncryptedGuests.UniqueName("first"), s.Guests.CreateDisk("first-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        var second = s.Guests.Define(EncryptedGuests.UniqueName("second"), s.Guests.CreateDisk("second-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        File.WriteAllText(s.ConfigPath, $"<vms>\n  <vm name='{first.Name}' order='1'/>\n  <vm name='{second.Name}' order='2'/>\n</vms>\n");

        var report = await RunAsync([alice], handover: real => new FaultyHandover(real)
        {
            RemoveSecretFault = d => d.Disk.ContainerPath == first.Disks[0].Path ? new LibvirtException("virSecretUndefine", 1, 0, "injected: libvirtd refused") : null,
        });

        Assert.Equal(DomainState.Running, s.Guests.StateOf(first));
        var started = Guest(report, first);
        Assert.Equal(GuestOutcome.Started, started.Outcome);
        var disk = Assert.Single(started.Disks);
        Assert.Equal(DiskOutcome.Failed, disk.Outcome);
        Assert.Contains($"virsh secret-undefine {first.Disks[0].SecretUuid}", disk.Message, StringComparison.Ordinal);
        Assert.Contains(report.Problems, p => p.Contains("injected: libvirtd refused", StringComparison.Ordinal));
        Assert.False(report.AllGuestsRunning);
        Assert.Equal(DomainState.Running, s.Guests.StateOf(second));
        Assert.False(s.Guests.HasAnySecret(second));
        Assert.Equal(GuestOutcome.Started, Guest(report, second).Outcome);
    }

    [Fact]
    public async Task A_start_that_times_out_after_the_guest_runs_is_reported_started_and_nothing_is_rolled_back()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("slow"), s.Guests.CreateDisk("slow-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        var seen = new List<LibvirtDomain>();

        var report = await RunAsync([alice], starter: real => new FaultyStarter(real, seen)
        {
            AfterRealStart = () => "domain did not reach Running within 0 s (injected timeout)",
        });

        Assert.Equal(DomainState.Running, s.Guests.StateOf(guest));
        var started = Guest(report, guest);
        Assert.Equal(GuestOutcome.Started, started.Outcome);
        Assert.Equal("Running", started.StateAfter);
        Assert.Equal(DiskOutcome.Opened, Assert.Single(started.Disks).Outcome);
        // QEMU holds the key; the secret went after the start, as in any start.
        Assert.False(s.Guests.HasAnySecret(guest));
        Assert.True(report.AllGuestsRunning);
        Assert.Contains("but the guest runs", _console.ToString(), StringComparison.Ordinal);
        // The run disposed its domain handles (and with them its connection).
        Assert.Throws<ObjectDisposedException>(() => Assert.Single(seen).State);
    }

    [Fact]
    public async Task An_interruption_after_the_start_went_through_reports_the_guest_started_and_the_next_group_stays_off()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var first = s.Guests.Define(EncryptedGuests.UniqueName("first"), s.Guests.CreateDisk("first-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        var second = s.Guests.Define(EncryptedGuests.UniqueName("second"), s.Guests.CreateDisk("second-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        File.WriteAllText(s.ConfigPath, $"<vms>\n  <vm name='{first.Name}' order='1'/>\n  <vm name='{second.Name}' order='2'/>\n</vms>\n");
        using var interruption = new CancellationTokenSource();

        // SIGTERM while virDomainCreate runs: the start goes through, the wait sees the signal.
        var report = await RunAsync([alice], starter: real => new FaultyStarter(real, [])
        {
            AfterRealStart = () =>
            {
                interruption.Cancel();
                throw new OperationCanceledException(interruption.Token);
            },
        }, cancellationToken: interruption.Token);

        Assert.True(report.Interrupted);
        Assert.Equal(DomainState.Running, s.Guests.StateOf(first));
        Assert.Equal(GuestOutcome.Started, Guest(report, first).Outcome);
        Assert.False(s.Guests.HasAnySecret(first));
        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(second));
        var off = Guest(report, second);
        Assert.Equal(GuestOutcome.NotStarted, off.Outcome);
        Assert.Contains("interrupted", off.Message, StringComparison.Ordinal);
        Assert.Equal(DiskOutcome.LeftClosed, Assert.Single(off.Disks).Outcome);
        Assert.False(s.Guests.HasAnySecret(second));
        Assert.Contains(first.Disks[0].Path, File.ReadAllText(s.StatePath), StringComparison.Ordinal);
    }

    [Fact]
    public void A_secret_the_hand_over_defined_goes_again_when_libvirtd_refuses_its_value()
    {
        using var connection = libvirtd.Open();
        var uuid = Guid.NewGuid();
        var disk = new DiskPlan(EncryptedDisk.CreateNative(_scenario.Directory.PathOf("absent.luks"), uuid, "vda", "test"));
        // libvirt's RPC carries at most 64 KiB of secret value: libvirtd never gets this one,
        // after the secret itself was defined.
        var bytes = new byte[70_000];
        bytes.AsSpan().Fill((byte)'k');
        using var key = new PresentedKey("alice", null, "test", SecretBuffer.CopyOf(bytes));
        disk.Outcome = new DiskTrialOutcome(disk.Trials, new KeyTrial(key, 0, TrialReason.Search), 1, null);

        var error = Assert.ThrowsAny<Exception>(() => new DiskHandover(connection, HypervisorAccount.Debian).HandOver(disk));

        Assert.IsType<LibvirtException>(error, exactMatch: false);
        Assert.Null(connection.TryLookupSecretByUuid(uuid));
    }

    [Fact]
    public void A_state_file_that_cannot_be_written_is_a_warning_and_the_started_guests_stand()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("nostate"), s.Guests.CreateDisk("nostate-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        // Its directory is a regular file: no state file can ever be written there.
        var blocker = s.Directory.PathOf("not-a-directory");
        File.WriteAllText(blocker, "");
        s.Present(alice, "luks-alice.1.key");

        var result = LuksVirtCli.Run("unlock", "--keys", s.KeyDirectory, "--json", "--config", s.ConfigPath, "--state", Path.Combine(blocker, "state.json"), "--log", s.LogPath, "--vm", guest.Name);

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        Assert.Equal("Started", UnlockScenario.GuestIn(UnlockScenario.Json(result), guest).GetProperty("outcome").GetString());
        Assert.Contains("cannot save the state file", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(DomainState.Running, s.Guests.StateOf(guest));
    }

    private static GuestReport Guest(UnlockReport report, TestGuest guest) => report.Guests.Single(g => g.Name == guest.Name);

    /// <summary>One in-process run over the scenario's guests with copies of the given keys.</summary>
    private async Task<UnlockReport> RunAsync(
        TestKey[] keys,
        Func<IDiskHandover, IDiskHandover>? handover = null,
        Func<IGuestStarter, IGuestStarter>? starter = null,
        CancellationToken cancellationToken = default)
    {
        var options = _scenario.Options(libvirtd.Uri);
        using var log = new ActivityLog(null, _console);
        using var presented = new KeySet(keys.Select(k => new PresentedKey(k.Holder, 1, "test", SecretBuffer.CopyOf(k.Secret.Span))));
        var runner = new UnlockRunner(options, log,
            connection => (handover ?? (real => real))(new DiskHandover(connection, HypervisorAccount.Debian)),
            connection => (starter ?? (real => real))(new GuestStarter(connection, options.StartTimeout)));
        return await runner.RunAsync(presented, new KeysReport(keys.Length, [], [], Deleted: false), cancellationToken);
    }

    /// <summary>The real hand-over, with a fault where the test asks for one.</summary>
    private sealed class FaultyHandover(IDiskHandover real) : IDiskHandover
    {
        public Func<DiskPlan, Exception?> HandOverFault { get; init; } = _ => null;

        public Func<DiskPlan, Exception?> RemoveSecretFault { get; init; } = _ => null;

        public void HandOver(DiskPlan disk)
        {
            if (HandOverFault(disk) is { } fault)
            {
                throw fault;
            }

            real.HandOver(disk);
        }

        public void Relink(DiskPlan disk, bool guestRuns) => real.Relink(disk, guestRuns);

        public void Withdraw(DiskPlan disk) => real.Withdraw(disk);

        public void RemoveSecret(DiskPlan disk)
        {
            if (RemoveSecretFault(disk) is { } fault)
            {
                throw fault;
            }

            real.RemoveSecret(disk);
        }
    }

    /// <summary>The real start, then whatever the test says happened while waiting for it.</summary>
    private sealed class FaultyStarter(IGuestStarter real, List<LibvirtDomain> seen) : IGuestStarter
    {
        public Func<string?> AfterRealStart { get; init; } = () => null;

        public async Task<string?> StartAsync(LibvirtDomain domain, CancellationToken cancellationToken)
        {
            lock (seen)
            {
                seen.Add(domain);
            }

            var failure = await real.StartAsync(domain, CancellationToken.None);
            Assert.Null(failure);
            return AfterRealStart();
        }
    }
}
