using LuksVirt.Core.Activation;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Logging;
using LuksVirt.Core.State;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Status;

/// <summary>What is locked and what is open, per inventory guest, and every key LuksVirt left in
/// a libvirt secret; reads only, changes nothing.</summary>
/// <param name="runLockPath">The lock every luksvirt run holds: taken for a moment, never waited
/// for, to tell a leftover secret from one a run under way is using; null: never taken.</param>
public sealed class StatusReporter(string connectUri, string? configPath, string statePath, string? runLockPath, ActivityLog log)
{
    public StatusReport Run()
    {
        using var connection = LibvirtConnection.Open(connectUri);
        var inventory = LiveInventory.Load(connection, configPath, [], log);
        var state = new UnlockStateStore(statePath).Load().State;
        var keysInLibvirt = FindKeysInLibvirt(connection);
        var guests = new List<GuestStatus>();
        foreach (var guest in inventory.Guests)
        {
            using var domain = connection.TryLookupDomainByName(guest.Name);
            var running = domain is { IsActive: true };
            var disks = guest.Disks.Select(d => Describe(connection, d, running, state)).ToList();
            guests.Add(new GuestStatus(guest.Name, domain?.State.ToString() ?? "undefined", domain?.Autostart ?? false, guest.Order, disks));
        }

        var problems = inventory.Problems
            .Concat(keysInLibvirt.Where(k => k.Leftover).Select(k =>
                $"libvirt secret {k.Uuid} still holds the key of {k.Container}, left by an interrupted run; " +
                $"the next luksvirt unlock (or the watch service's start) removes it, or now: virsh secret-undefine {k.Uuid}"))
            .ToList();
        return new StatusReport(guests, problems, keysInLibvirt, state.LastRun)
        {
            QuorumWaiting = QuorumWaitingFile.Read(QuorumWaitingFile.PathBeside(statePath), TimeProvider.System),
        };
    }

    /// <summary>The run lock is held only while the secrets are listed (milliseconds), and only
    /// if it is free: then no run is under way, so every secret of LuksVirt's is a leftover.</summary>
    private List<KeyInLibvirtSecret> FindKeysInLibvirt(LibvirtConnection connection)
    {
        using var idle = TryTakeRunLock();
        var leftover = idle is not null;
        return LeftoverSecrets.Find(connection).Select(s => new KeyInLibvirtSecret(s.Uuid, s.ContainerPath, leftover)).ToList();
    }

    private FileLock? TryTakeRunLock()
    {
        if (runLockPath is null)
        {
            return null;
        }

        try
        {
            return FileLock.Acquire(runLockPath, TimeSpan.Zero);
        }
        catch (TimeoutException)
        {
            return null;   // a run is under way
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Info($"cannot look at the run lock ({e.Message}): secrets of LuksVirt's are shown, but not whether a run is using them");
            return null;
        }
    }

    private static DiskStatus Describe(LibvirtConnection connection, EncryptedDisk disk, bool guestRunning, UnlockState state)
    {
        DiskLockState lockState;
        DiskSecretStatus? secretStatus = null;
        if (disk.Backend == DiskBackend.DmCrypt)
        {
            lockState = CryptDevice.IsDeviceMapperAvailable && CryptDevice.IsMappingActive(disk.MappingName!) ? DiskLockState.Open : DiskLockState.Locked;
        }
        else
        {
            // Looked up even while the guest runs: a run killed mid-start leaves the secret, and
            // libvirtd starts the guest all the same.
            var uuid = disk.SecretUuid!.Value;
            secretStatus = LookUpSecret(connection, uuid);
            lockState = secretStatus is not null ? DiskLockState.KeyInLibvirt
                : guestRunning ? DiskLockState.InUse
                : DiskLockState.Locked;
        }

        var last = state.LastOpenerOf(disk.ContainerPath, null);
        return new DiskStatus(disk.ContainerPath, disk.Backend, lockState, disk.LinkPath, last?.Holder, last?.Slot, last?.OpenedAtUtc, secretStatus);
    }

    private static DiskSecretStatus? LookUpSecret(LibvirtConnection connection, Guid uuid)
    {
        using var secret = connection.TryLookupSecretByUuid(uuid);
        try
        {
            return secret is null ? null : new DiskSecretStatus(uuid, SecretOwnership.IsLuksVirts(secret.GetXml(), out _));
        }
        catch (SecretNotFoundException)
        {
            return null;   // removed just now (a run under way finished with it)
        }
    }
}
