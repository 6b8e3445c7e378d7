using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;

namespace LuksVirt.Core.Activation;

/// <summary>
/// Whether an active mapping of a dmcrypt disk's name (luks-NAME) is that disk's container,
/// opened earlier (by an earlier run, or by hand): only then may a run take it as "already
/// open" and hand it to the guest. A mapping of the same name on another container (a stale
/// mapping of a moved or replaced image, another host's naming) must never be given to the guest.
/// </summary>
internal static class OpenMappingCheck
{
    /// <summary>Null when <paramref name="mapping"/> is backed by the disk's container; otherwise
    /// why not, naming the fix. Reads the container's LUKS header and the backing device.</summary>
    public static string? Check(EncryptedDisk disk, ActiveMapping mapping)
    {
        ArgumentNullException.ThrowIfNull(disk);
        ArgumentNullException.ThrowIfNull(mapping);
        return Mismatch(disk, mapping, ReadUuid(disk.ContainerPath), BackingDevice.IsContainer(mapping.BackingDevice, disk.ContainerPath));
    }

    /// <summary>The decision, from the facts: the container's LUKS UUID (null when its header
    /// cannot be read) and whether the backing device is the container itself (null when that
    /// cannot be told: then the UUID decides).</summary>
    public static string? Mismatch(EncryptedDisk disk, ActiveMapping mapping, string? containerUuid, bool? backedByContainer)
    {
        ArgumentNullException.ThrowIfNull(disk);
        ArgumentNullException.ThrowIfNull(mapping);
        var close = $"close it (cryptsetup close {mapping.Name}) and run again";
        if (mapping.LuksUuid is null)
        {
            return $"{mapping.Name} is open on {mapping.BackingDevice}, but not as a LUKS container; LuksVirt will not hand it to the guest: {close}";
        }

        if (containerUuid is null)
        {
            return $"{mapping.Name} is open on {mapping.BackingDevice}, but the LUKS header of {disk.ContainerPath} cannot be read to check that it is this container; check the container, or {close}";
        }

        if (!string.Equals(mapping.LuksUuid, containerUuid, StringComparison.OrdinalIgnoreCase))
        {
            return $"{mapping.Name} is open on another LUKS container ({mapping.BackingDevice}, UUID {mapping.LuksUuid}), not on {disk.ContainerPath} (UUID {containerUuid}); {close}";
        }

        if (backedByContainer == false)
        {
            return $"{mapping.Name} is open on {mapping.BackingDevice}, which carries the same LUKS UUID as {disk.ContainerPath} but is not that container (a copy?); {close}";
        }

        return null;
    }

    private static string? ReadUuid(string containerPath)
    {
        try
        {
            using var device = CryptDevice.Load(containerPath);
            return device.Uuid;
        }
        catch (CryptsetupException)
        {
            return null;
        }
    }
}

/// <summary>Whether a mapping's backing device is a given container: the same block device, or a
/// loop device whose backing file is the container file (as libcryptsetup sets one up for an
/// image file).</summary>
internal static class BackingDevice
{
    /// <summary>True or false when it can be told; null when not (e.g. a loop device without
    /// sysfs, or a container that cannot be examined).</summary>
    public static bool? IsContainer(string backingDevice, string containerPath)
    {
        try
        {
            var container = PosixFile.GetLinkStatus(Resolve(containerPath));
            var backing = PosixFile.GetLinkStatus(Resolve(backingDevice));
            if (backing.Type != PosixFileType.BlockDevice)
            {
                return null;
            }

            if (container.Type == PosixFileType.BlockDevice)
            {
                return container.RawDevice == backing.RawDevice;
            }

            if (container.Type != PosixFileType.Regular)
            {
                return null;
            }

            // A file is opened through a loop device; sysfs names the file behind it.
            var name = Path.GetFileName(Resolve(backingDevice));
            if (!name.StartsWith("loop", StringComparison.Ordinal))
            {
                return false;
            }

            var backingFile = Path.Combine("/sys/class/block", name, "loop", "backing_file");
            if (!File.Exists(backingFile))
            {
                return null;
            }

            // The kernel appends " (deleted)" to a file that was removed: then no stat matches.
            var file = File.ReadAllText(backingFile).TrimEnd('\n');
            var behind = PosixFile.GetLinkStatus(Resolve(file));
            return behind.Device == container.Device && behind.Inode == container.Inode;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string Resolve(string path) => new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
}
