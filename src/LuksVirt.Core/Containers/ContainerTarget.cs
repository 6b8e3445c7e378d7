using LuksVirt.Core.Volumes;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;

namespace LuksVirt.Core.Containers;

public enum ContainerTargetKind
{
    /// <summary>A sparse image file (new, or existing with --force).</summary>
    File,

    /// <summary>An existing block device (a partition, a loop device, an existing LV).</summary>
    BlockDevice,

    /// <summary>A new LVM logical volume, given as VG/LV.</summary>
    LogicalVolume,
}

/// <summary>
/// Where <c>create --disk</c> puts the container, and what is there now. <see cref="Path"/> is
/// the file or device node (for an LV, /dev/VG/LV); <see cref="Exists"/> whether something is
/// there already.
/// </summary>
public sealed record ContainerTarget(ContainerTargetKind Kind, string Path, bool Exists, string? VolumeGroup = null, string? VolumeName = null)
{
    /// <summary>One mebibyte, the span checked for data at each end of a device.</summary>
    private const int ProbeBytes = 1 << 20;

    /// <summary>An absolute path (file or device) or VG/LV. Throws
    /// <see cref="ContainerRefusedException"/> for anything else, a symbolic link, a directory.</summary>
    public static ContainerTarget Resolve(string disk)
    {
        ArgumentException.ThrowIfNullOrEmpty(disk);
        if (!disk.StartsWith('/'))
        {
            if (LogicalVolumes.IsVolumeName(disk))
            {
                var parts = disk.Split('/');
                var device = LogicalVolumes.DevicePath(parts[0], parts[1]);
                return new ContainerTarget(ContainerTargetKind.LogicalVolume, device, TryStatus(device) is not null, parts[0], parts[1]);
            }

            throw new ContainerRefusedException($"--disk '{disk}' is neither an absolute path nor VG/LV; give /path/to/NAME.luks, /dev/DEVICE or VG/LV");
        }

        var path = System.IO.Path.GetFullPath(disk);
        var status = TryStatus(path);
        if (status is null)
        {
            var directory = System.IO.Path.GetDirectoryName(path)!;
            return Directory.Exists(directory)
                ? new ContainerTarget(ContainerTargetKind.File, path, Exists: false)
                : throw new ContainerRefusedException($"the directory {directory} does not exist; create it first");
        }

        // A link would make the check below look at one file and the format hit another.
        return status.Value.Type switch
        {
            PosixFileType.Regular => new ContainerTarget(ContainerTargetKind.File, path, Exists: true),
            PosixFileType.BlockDevice => new ContainerTarget(ContainerTargetKind.BlockDevice, path, Exists: true),
            PosixFileType.SymbolicLink => throw new ContainerRefusedException($"{path} is a symbolic link; name the file or device it points to"),
            var other => throw new ContainerRefusedException($"{path} is a {other}, not a file or block device"),
        };
    }

    /// <summary>
    /// What an existing target holds, or null when it is free to format: a regular file always
    /// counts (it is someone's file); a device counts when it carries a LUKS header or when its
    /// first or last mebibyte is not all zeros (file system, partition table, RAID and LVM
    /// signatures live there).
    /// </summary>
    public string? DescribeExistingContent()
    {
        if (!Exists)
        {
            return null;
        }

        var luks = DescribeLuks();
        if (Kind == ContainerTargetKind.File)
        {
            return luks ?? $"the file {Path} exists ({DiskSize.Describe(new FileInfo(Path).Length)})";
        }

        if (luks is not null)
        {
            return luks;
        }

        using var device = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var length = StorageLength.Of(device, Path);
        var buffer = new byte[ProbeBytes];
        foreach (var offset in new[] { 0L, Math.Max(0, length - ProbeBytes) })
        {
            var read = RandomAccess.Read(device, buffer, offset);
            if (buffer.AsSpan(0, read).ContainsAnyExcept((byte)0))
            {
                return $"the device {Path} holds data (non-zero bytes in its {(offset == 0 ? "first" : "last")} MiB)";
            }
        }

        return null;
    }

    /// <summary>Size of an existing block device in bytes.</summary>
    public long DeviceLength() => StorageLength.Of(Path);

    private string? DescribeLuks()
    {
        try
        {
            if (!CryptDevice.IsLuks(Path))
            {
                return null;
            }

            using var device = CryptDevice.Load(Path);
            return $"{Path} is a {device.Version.Label()} container (UUID {device.Uuid}); formatting destroys its data and every key";
        }
        catch (DamagedHeaderException e)
        {
            return $"{Path} is a LUKS container with a damaged header ({e.Reason}); formatting destroys its data and every key. "
                + $"To recover it instead, restore the header from a backup: luksvirt header restore --container {Path} --file BACKUP";
        }
        catch (CryptsetupException)
        {
            return null;
        }
    }

    private static PosixFileStatus? TryStatus(string path)
    {
        try
        {
            return PosixFile.GetLinkStatus(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }
}
