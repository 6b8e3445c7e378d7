using System.Diagnostics;
using LuksVirt.Core.Activation;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Logging;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Lock;

/// <summary>
/// Locks the host again: asks each guest in scope to power off (ACPI), destroys it after the
/// timeout, then closes its dm-crypt mappings, removes their links, and removes any libvirt
/// secret of LuksVirt's still holding a key (never one LuksVirt did not make).
/// Guests go down in reverse start order, one start group after the other (a group goes only
/// once the group started after it is off: the later guests may depend on the earlier ones).
/// Within a group they go down side by side: every guest is asked at once and destroyed after
/// its own timeout, so a group of N guests that ignore ACPI takes about one timeout, not N.
/// Each guest is handled on its own: whatever fails for one, the others are still locked and
/// the report names every guest.
/// </summary>
public sealed class HostLocker(string connectUri, string? configPath, IReadOnlyCollection<string> vmNames, TimeSpan shutdownTimeout, ActivityLog log)
{
    /// <summary>Blocking libvirt calls under way at once, at most: virDomainDestroy blocks for a
    /// second or more while QEMU exits, each on a thread of its own.</summary>
    private const int MaxConcurrentCalls = 16;

    /// <summary>How long a destroyed guest may take to be reported off (virDomainDestroy
    /// normally returns only once it is).</summary>
    private static readonly TimeSpan DestroyedWait = TimeSpan.FromSeconds(30);

    /// <summary>libcryptsetup and libdevmapper calls of guests locked side by side go one at a time.</summary>
    private readonly System.Threading.Lock _deviceGate = new();

    public async Task<LockReport> RunAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        using var connection = LibvirtConnection.Open(connectUri);
        var inventory = LiveInventory.Load(connection, configPath, vmNames, log);
        using var calls = new SemaphoreSlim(MaxConcurrentCalls);
        var run = new LockRun(calls, cancellationToken);
        var reports = new List<GuestLockReport>();
        foreach (var group in StopGroups(inventory.Guests))
        {
            reports.AddRange(await Task.WhenAll(group.Select(g => LockGuestAsync(run, g))).ConfigureAwait(false));
        }

        // Keys an interrupted unlock left in libvirt (guests outside this scope included): this
        // run holds the run lock, so no other run is using them.
        _ = LeftoverSecrets.Sweep(connection, log);

        log.Info($"lock done: {reports.Count} guest(s), {clock.ElapsedMilliseconds} ms");
        return new LockReport(reports, clock.ElapsedMilliseconds, inventory.Problems);
    }

    /// <summary>The inventory's guests come sorted by start order (unordered last): consecutive
    /// guests of the same order form a start group; the groups go down last one first.</summary>
    internal static IReadOnlyList<IReadOnlyList<Guest>> StopGroups(IReadOnlyList<Guest> guests)
    {
        var groups = new List<IReadOnlyList<Guest>>();
        var group = new List<Guest>();
        foreach (var guest in guests)
        {
            if (group.Count > 0 && group[0].Order != guest.Order)
            {
                groups.Add(group);
                group = [];
            }

            group.Add(guest);
        }

        if (group.Count > 0)
        {
            groups.Add(group);
        }

        groups.Reverse();
        return groups;
    }

    private async Task<GuestLockReport> LockGuestAsync(LockRun run, Guest guest)
    {
        LibvirtConnection? connection = null;
        LibvirtDomain? domain = null;
        var lookedUp = false;   // libvirt answered whether the guest exists (domain null: it does not)
        var before = "unknown";
        GuestLockOutcome outcome;
        string? message = null;
        try
        {
            // A connection per guest: libvirtd serves at most 5 calls of one connection at a time
            // (max_client_requests), and each destroy holds one for a second or more.
            connection = await run.CallAsync(() => LibvirtConnection.Open(connectUri)).ConfigureAwait(false);
            domain = connection.TryLookupDomainByName(guest.Name);
            lookedUp = true;
            before = domain?.State.ToString() ?? "undefined";
            outcome = domain is null || !domain.IsActive
                ? GuestLockOutcome.AlreadyOff
                : await PowerOffAsync(run, connection, domain).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Each guest on its own: whatever one throws, the others are still locked and the report is still made.
        catch (Exception e)
#pragma warning restore CA1031
        {
            outcome = GuestLockOutcome.Failed;
            message = e is OperationCanceledException
                ? "lock interrupted before the guest was off; run luksvirt lock again"
                : e.Message;
            log.Error($"{guest.Name}: cannot power off: {message}");
        }

        try
        {
            // Disks are closed only once nothing uses them any more; after a failure, the state
            // the guest is really in decides (unknown counts as running).
            var after = !lookedUp ? null : domain is null ? DomainState.Shutoff : StateOf(domain);
            var disks = connection is not null && after is { } state && IsOff(state)
                ? guest.Disks.Select(d => CloseDisk(connection, d)).ToList()
                : guest.Disks.Select(d => new DiskLockReport(d.ContainerPath, d.Backend, DiskLockOutcome.Failed,
                    after is { } still ? $"guest still {still.ToString().ToLowerInvariant()}" : "guest state unknown")).ToList();
            log.Info($"{guest.Name}: {(outcome == GuestLockOutcome.Failed ? "not locked" : "locked")} ({outcome})");
            var stateAfter = lookedUp && domain is null ? "undefined" : after?.ToString() ?? "unknown";
            return new GuestLockReport(guest.Name, before, stateAfter, outcome, disks, message);
        }
        finally
        {
            domain?.Dispose();
            connection?.Dispose();
        }
    }

    private async Task<GuestLockOutcome> PowerOffAsync(LockRun run, LibvirtConnection connection, LibvirtDomain domain)
    {
        // An interrupted lock asks no further guest to power off.
        run.Cancellation.ThrowIfCancellationRequested();
        await run.CallAsync(domain.Shutdown).ConfigureAwait(false);
        log.Info($"{domain.Name}: ACPI shutdown requested, destroy after {shutdownTimeout.TotalSeconds:0} s");
        try
        {
            await connection.WaitForDomainStateAsync(domain, IsOff, shutdownTimeout, run.Cancellation).ConfigureAwait(false);
            return GuestLockOutcome.ShutDown;
        }
        catch (TimeoutException)
        {
            log.Warning($"{domain.Name}: did not power off within {shutdownTimeout.TotalSeconds:0} s; destroying it");
        }

        try
        {
            await run.CallAsync(domain.Destroy).ConfigureAwait(false);
        }
        catch (LibvirtOperationInvalidException) when (!domain.IsActive)
        {
            // It powered off on its own just as its time ran out.
            return GuestLockOutcome.ShutDown;
        }

        await connection.WaitForDomainStateAsync(domain, IsOff, DestroyedWait, run.Cancellation).ConfigureAwait(false);
        return GuestLockOutcome.Destroyed;
    }

    private static bool IsOff(DomainState state) => state is DomainState.Shutoff or DomainState.Crashed;

    /// <summary>Null when libvirt cannot say (the guest then counts as still on).</summary>
    private static DomainState? StateOf(LibvirtDomain domain)
    {
        try
        {
            return domain.State;
        }
        catch (LibvirtException)
        {
            return null;
        }
    }

    private DiskLockReport CloseDisk(LibvirtConnection connection, EncryptedDisk disk)
    {
        try
        {
            if (disk.Backend == DiskBackend.Native)
            {
                return RemoveSecret(new NativeSecretActivator(connection), disk);
            }

            lock (_deviceGate)
            {
                var open = CryptDevice.IsDeviceMapperAvailable && CryptDevice.IsMappingActive(disk.MappingName!);
                DmCryptActivator.Close(disk);
                return new DiskLockReport(disk.ContainerPath, disk.Backend, open ? DiskLockOutcome.Closed : DiskLockOutcome.AlreadyLocked);
            }
        }
#pragma warning disable CA1031 // One disk's failure (EPERM on a link, a libvirt error, a busy mapping) is reported; the others still close.
        catch (Exception e)
#pragma warning restore CA1031
        {
            log.Error($"{disk.ContainerPath}: cannot close: {e.Message}");
            return new DiskLockReport(disk.ContainerPath, disk.Backend, DiskLockOutcome.Failed, e.Message);
        }
    }

    private DiskLockReport RemoveSecret(NativeSecretActivator native, EncryptedDisk disk)
    {
        var uuid = disk.SecretUuid!.Value;
        switch (native.Remove(uuid))
        {
            case SecretRemoval.Removed:
                return new DiskLockReport(disk.ContainerPath, disk.Backend, DiskLockOutcome.SecretRemoved);
            case SecretRemoval.NotLuksVirts:
                var message = $"libvirt secret {uuid} was not made by LuksVirt (persistent, readable or not marked as LuksVirt's): " +
                    $"left untouched; if it holds a key you want gone: virsh secret-undefine {uuid}";
                log.Warning($"{disk.ContainerPath}: {message}");
                return new DiskLockReport(disk.ContainerPath, disk.Backend, DiskLockOutcome.SecretNotLuksVirts, message);
            default:
                return new DiskLockReport(disk.ContainerPath, disk.Backend, DiskLockOutcome.AlreadyLocked);
        }
    }

    /// <summary>What every guest of one lock run shares.</summary>
    private sealed class LockRun(SemaphoreSlim calls, CancellationToken cancellation)
    {
        public CancellationToken Cancellation => cancellation;

        /// <summary>A blocking libvirt call on a thread of its own (pool threads would be added
        /// one at a time while the others block), at most <see cref="MaxConcurrentCalls"/> at once.
        /// Not cancelled: a call that was decided on (a destroy after the timeout) is made.</summary>
        public async Task CallAsync(Action call) => await CallAsync(() =>
        {
            call();
            return true;
        }).ConfigureAwait(false);

        public async Task<T> CallAsync<T>(Func<T> call)
        {
            await calls.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                return await Task.Factory.StartNew(call, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            }
            finally
            {
                _ = calls.Release();
            }
        }
    }
}
