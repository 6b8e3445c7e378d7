using LuksVirt.Core.Inventory;
using LuksVirt.Core.Logging;
using LuksVirt.Core.State;
using LuksVirt.Cryptsetup;
using LuksVirt.Libvirt;

namespace LuksVirt.Core.Status;

/// <summary>What is locked and what is open, per inventory guest; reads only, changes nothing.</summary>
public sealed class StatusReporter(string connectUri, string? configPath, string statePath, ActivityLog log)
{
    public StatusReport Run()
    {
        using var connection = LibvirtConnection.Open(connectUri);
        var inventory = LiveInventory.Load(connection, configPath, [], log);
        var state = new UnlockStateStore(statePath).Load().State;
        var guests = new List<GuestStatus>();
        foreach (var guest in inventory.Guests)
        {
            using var domain = connection.TryLookupDomainByName(guest.Name);
            var running = domain is { IsActive: true };
            var disks = guest.Disks.Select(d => Describe(connection, d, running, state)).ToList();
            guests.Add(new GuestStatus(guest.Name, domain?.State.ToString() ?? "undefined", domain?.Autostart ?? false, guest.Order, disks));
        }

        return new StatusReport(guests, inventory.Problems);
    }

    private static DiskStatus Describe(LibvirtConnection connection, EncryptedDisk disk, bool guestRunning, UnlockState state)
    {
        DiskLockState lockState;
        if (disk.Backend == DiskBackend.DmCrypt)
        {
            lockState = CryptDevice.IsDeviceMapperAvailable && CryptDevice.IsMappingActive(disk.MappingName!) ? DiskLockState.Open : DiskLockState.Locked;
        }
        else if (guestRunning)
        {
            lockState = DiskLockState.InUse;
        }
        else
        {
            using var secret = connection.TryLookupSecretByUuid(disk.SecretUuid!.Value);
            lockState = secret is null ? DiskLockState.Locked : DiskLockState.KeyInLibvirt;
        }

        var last = state.LastOpenerOf(disk.ContainerPath, null);
        return new DiskStatus(disk.ContainerPath, disk.Backend, lockState, disk.LinkPath, last?.Holder, last?.Slot, last?.OpenedAtUtc);
    }
}
