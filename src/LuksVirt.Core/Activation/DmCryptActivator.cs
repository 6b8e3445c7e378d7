using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Activation;

/// <summary>
/// The dmcrypt backend (the classic recipe's way): opens /dev/mapper/luks-NAME with dm-crypt,
/// gives the device to QEMU's user, and points the link the domain uses at it
/// (<see cref="DeviceLink"/>: through a descriptor of the link's directory, never over anything
/// but a symbolic link).
/// </summary>
internal sealed class DmCryptActivator(HypervisorAccount account)
{
    public static string DevicePath(EncryptedDisk disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        return "/dev/mapper/" + disk.MappingName;
    }

    /// <summary>Opens the mapping with the volume key a trial unlocked (no second key
    /// derivation), through <paramref name="header"/> when the run already loaded the container's
    /// header (no second read of it), hands it to QEMU's user and links it. On any failure after the
    /// mapping was created it is closed again: nothing half-done stays.</summary>
    public void Open(EncryptedDisk disk, SecretBuffer volumeKey, CryptDevice? header = null)
    {
        ArgumentNullException.ThrowIfNull(disk);
        var refusal = ActivationPreflight.BeforeKeys(disk);
        if (refusal is not null)
        {
            throw new ActivationException($"{disk.ContainerPath}: {refusal}");
        }

        using (var loaded = header is null ? CryptDevice.Load(disk.ContainerPath) : null)
        {
            (header ?? loaded!).ActivateWithVolumeKey(disk.MappingName!, volumeKey);
        }

        try
        {
            HandOver(disk);
        }
        catch (Exception failure)
        {
            try
            {
                CryptDevice.Deactivate(disk.MappingName!);
            }
            catch (IOException closing)
            {
                throw new ActivationException(
                    $"{failure.Message}; closing {disk.MappingName} again failed too ({closing.Message}): close it with 'cryptsetup close {disk.MappingName}'", failure);
            }

            throw;
        }
    }

    /// <summary>Gives an open mapping to QEMU's user and points the link at it: right after
    /// <see cref="Open"/>, and for a mapping an earlier run left open (checked with
    /// <see cref="OpenMappingCheck"/>) whose link is missing or points elsewhere.</summary>
    public void HandOver(EncryptedDisk disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        var ids = PosixFile.LookupUserAndGroup(account.User, account.Group)
            ?? throw new ActivationException($"user {account.User} or group {account.Group} does not exist; check user/group in {HypervisorAccount.QemuConfPath}");
        PosixFile.ChangeOwner(DeviceNode(DevicePath(disk)), ids.Uid, ids.Gid);
        Relink(disk);
    }

    /// <summary>Points the disk's link at its mapping (and changes nothing else).</summary>
    public static void Relink(EncryptedDisk disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        DeviceLink.Replace(disk.LinkPath ?? throw new InvalidOperationException($"{disk.ContainerPath}: dmcrypt disk without a link path"), DevicePath(disk));
    }

    /// <summary>Closes the mapping, then removes the link (only if it points at the mapping).
    /// In that order: a mapping still in use (a guest that runs after all) refuses to close
    /// (EBUSY), and then its link stays too, so a running guest never loses what it runs on.
    /// A link that is already gone does not keep the mapping open.</summary>
    public static void Close(EncryptedDisk disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        if (CryptDevice.IsMappingActive(disk.MappingName!))
        {
            CryptDevice.Deactivate(disk.MappingName!);
        }

        if (disk.LinkPath is { } link)
        {
            DeviceLink.RemoveIfPointsAt(link, DevicePath(disk));
        }
    }

    /// <summary>The block device node behind /dev/mapper/NAME. Without udevd, libdevmapper
    /// creates NAME as the node itself; with udevd (any real host), udev's dm rules make it a
    /// symbolic link to ../dm-N, and the owner must be set on that node (seen in the lab:
    /// ChangeOwner on the link was refused, the guest could not start).</summary>
    private static string DeviceNode(string devicePath)
    {
        if (PosixFile.GetLinkStatus(devicePath).Type != PosixFileType.SymbolicLink)
        {
            return devicePath;
        }

        var node = File.ResolveLinkTarget(devicePath, returnFinalTarget: true)?.FullName
            ?? throw new ActivationException($"{devicePath}: the link to the mapping's device vanished; run again");
        if (PosixFile.GetLinkStatus(node).Type != PosixFileType.BlockDevice)
        {
            throw new ActivationException($"{devicePath} points to {node}, which is not a block device; check the udev rules for device-mapper");
        }

        return node;
    }
}
