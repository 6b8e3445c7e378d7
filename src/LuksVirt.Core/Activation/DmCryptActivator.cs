using LuksVirt.Core.Inventory;
using LuksVirt.Cryptsetup;
using LuksVirt.Libc;
using LuksVirt.Secrets;

namespace LuksVirt.Core.Activation;

/// <summary>
/// The dmcrypt backend (the classic recipe's way): opens /dev/mapper/luks-NAME with dm-crypt,
/// gives the device to QEMU's user, and points the link the domain uses at it.
/// </summary>
public sealed class DmCryptActivator(HypervisorAccount account)
{
    public static string DevicePath(EncryptedDisk disk) => "/dev/mapper/" + disk.MappingName;

    /// <summary>Opens the mapping with the volume key a trial unlocked (no second key
    /// derivation), hands it to QEMU's user and links it.</summary>
    public void Open(EncryptedDisk disk, SecretBuffer volumeKey)
    {
        if (!CryptDevice.IsDeviceMapperAvailable)
        {
            throw new ActivationException(
                $"{disk.ContainerPath}: device-mapper not available: this kernel has no dm-crypt; load it (modprobe dm_crypt) or use the native backend");
        }

        var linkPath = disk.LinkPath ?? throw new InvalidOperationException($"{disk.ContainerPath}: dmcrypt disk without a link path");
        EnsureLinkReplaceable(linkPath);
        using (var device = CryptDevice.Load(disk.ContainerPath))
        {
            device.ActivateWithVolumeKey(disk.MappingName!, volumeKey);
        }

        try
        {
            var ids = PosixFile.LookupUserAndGroup(account.User, account.Group)
                ?? throw new ActivationException($"user {account.User} or group {account.Group} does not exist; check user/group in {HypervisorAccount.QemuConfPath}");
            PosixFile.ChangeOwner(DeviceNode(DevicePath(disk)), ids.Uid, ids.Gid);
            ReplaceLink(linkPath, DevicePath(disk));
        }
        catch
        {
            CryptDevice.Deactivate(disk.MappingName!);
            throw;
        }
    }

    /// <summary>Removes the link (only if it points at our mapping) and closes the mapping.
    /// A link that is already gone does not keep the mapping open.</summary>
    public static void Close(EncryptedDisk disk)
    {
        if (disk.LinkPath is { } link && PointsAt(link, DevicePath(disk)))
        {
            File.Delete(link);
        }

        if (CryptDevice.IsMappingActive(disk.MappingName!))
        {
            CryptDevice.Deactivate(disk.MappingName!);
        }
    }

    private static bool PointsAt(string link, string devicePath)
    {
        try
        {
            return File.ResolveLinkTarget(link, returnFinalTarget: false) is { } target && target.FullName == devicePath;
        }
        catch (FileNotFoundException)
        {
            return false;
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

    private static void EnsureLinkReplaceable(string linkPath)
    {
        PosixFileStatus status;
        try
        {
            status = PosixFile.GetLinkStatus(linkPath);
        }
        catch (FileNotFoundException)
        {
            return;
        }

        if (status.Type != PosixFileType.SymbolicLink)
        {
            throw new ActivationException(
                $"{linkPath} exists and is not a symbolic link ({status.Type}); LuksVirt will not replace it. Move it away and run again");
        }
    }

    /// <summary>Atomic replacement: a new link under a temporary name, renamed over the old one.
    /// rename(2) replaces a pre-existing symlink itself and never follows it.</summary>
    private static void ReplaceLink(string linkPath, string devicePath)
    {
        var temporary = Path.Combine(Path.GetDirectoryName(linkPath)!, $".{Path.GetFileName(linkPath)}.luksvirt-{Environment.ProcessId}");
        File.CreateSymbolicLink(temporary, devicePath);
        File.Move(temporary, linkPath, overwrite: true);
    }
}
