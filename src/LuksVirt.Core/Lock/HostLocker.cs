using System.Diagnostics;
using LuksVirt.Core.Activation;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Logging;
using LuksVirt.Cryptsetup;
using LuksVirt.Libvirt;

namespace LuksVirt.Core.Lock;

/// <summary>
/// Locks the host again: asks each guest in scope to power off (ACPI), destroys it after the
/// timeout, then closes its dm-crypt mappings, removes their links, and removes any libvirt
/// secret still holding a key. Guests are handled in reverse start order.
/// </summary>
public sealed class HostLocker(string connectUri, string? configPath, IReadOnlyCollection<string> vmNames, TimeSpan shutdownTimeout, ActivityLog log)
{
    public async Task<LockReport> RunAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        using var connection = LibvirtConnection.Open(connectUri);
        var inventory = LiveInventory.Load(connection, configPath, vmNames, log);
        var native = new NativeSecretActivator(connection);
        var dmcrypt = new DmCryptActivator(HypervisorAccount.FromQemuConf());
        var reports = new List<GuestLockReport>();
        foreach (var guest in inventory.Guests.Reverse())
        {
            reports.Add(await LockGuestAsync(connection, guest, native, dmcrypt, cancellationToken).ConfigureAwait(false));
        }

        log.Info($"lock done: {reports.Count} guest(s), {clock.ElapsedMilliseconds} ms");
        return new LockReport(reports, clock.ElapsedMilliseconds, inventory.Problems);
    }

    private async Task<GuestLockReport> LockGuestAsync(LibvirtConnection connection, Guest guest, NativeSecretActivator native, DmCryptActivator dmcrypt, CancellationToken cancellationToken)
    {
        using var domain = connection.TryLookupDomainByName(guest.Name);
        var before = domain?.State.ToString() ?? "undefined";
        GuestLockOutcome outcome;
        try
        {
            outcome = domain is null || !domain.IsActive
                ? GuestLockOutcome.AlreadyOff
                : await PowerOffAsync(connection, domain, cancellationToken).ConfigureAwait(false);
        }
        catch (LibvirtException e)
        {
            log.Error($"{guest.Name}: cannot power off: {e.Message}");
            var failedDisks = guest.Disks.Select(d => new DiskLockReport(d.ContainerPath, d.Backend, DiskLockOutcome.Failed, "guest still running")).ToList();
            return new GuestLockReport(guest.Name, before, domain?.State.ToString() ?? "undefined", GuestLockOutcome.Failed, failedDisks, e.Message);
        }

        // Disks are closed only once nothing uses them any more.
        var disks = guest.Disks.Select(d => CloseDisk(d, native, dmcrypt)).ToList();
        log.Info($"{guest.Name}: locked ({outcome})");
        return new GuestLockReport(guest.Name, before, domain?.State.ToString() ?? "undefined", outcome, disks);
    }

    private async Task<GuestLockOutcome> PowerOffAsync(LibvirtConnection connection, LibvirtDomain domain, CancellationToken cancellationToken)
    {
        log.Info($"{domain.Name}: ACPI shutdown requested, destroy after {shutdownTimeout.TotalSeconds:0} s");
        domain.Shutdown();
        try
        {
            await connection.WaitForDomainStateAsync(domain, s => s is DomainState.Shutoff or DomainState.Crashed, shutdownTimeout, cancellationToken).ConfigureAwait(false);
            return GuestLockOutcome.ShutDown;
        }
        catch (TimeoutException)
        {
            log.Warning($"{domain.Name}: did not power off within {shutdownTimeout.TotalSeconds:0} s; destroying it");
            domain.Destroy();
            await connection.WaitForDomainStateAsync(domain, s => s is DomainState.Shutoff or DomainState.Crashed, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            return GuestLockOutcome.Destroyed;
        }
    }

    private DiskLockReport CloseDisk(EncryptedDisk disk, NativeSecretActivator native, DmCryptActivator dmcrypt)
    {
        try
        {
            if (disk.Backend == DiskBackend.Native)
            {
                return native.Remove(disk.SecretUuid!.Value)
                    ? new DiskLockReport(disk.ContainerPath, disk.Backend, DiskLockOutcome.SecretRemoved)
                    : new DiskLockReport(disk.ContainerPath, disk.Backend, DiskLockOutcome.AlreadyLocked);
            }

            var open = CryptDevice.IsDeviceMapperAvailable && CryptDevice.IsMappingActive(disk.MappingName!);
            DmCryptActivator.Close(disk);
            return new DiskLockReport(disk.ContainerPath, disk.Backend, open ? DiskLockOutcome.Closed : DiskLockOutcome.AlreadyLocked);
        }
        catch (Exception e) when (e is LibvirtException or CryptsetupException or IOException)
        {
            log.Error($"{disk.ContainerPath}: cannot close: {e.Message}");
            return new DiskLockReport(disk.ContainerPath, disk.Backend, DiskLockOutcome.Failed, e.Message);
        }
    }
}
