using System.Globalization;

namespace LuksVirt.Core.Devices;

/// <summary>
/// Block devices as sysfs describes them (/sys/class/block). Read only; a device that vanishes
/// while being read is reported as absent, never as an error. <paramref name="root"/> is "/sys"
/// except in tests, which build a small tree of their own.
/// </summary>
public sealed class SysfsBlockDevices(string root = "/sys")
{
    private const int SectorBytes = 512;   // sysfs "size" counts 512-byte sectors whatever the device's own

    private string ClassBlock => Path.Join(root, "class", "block");

    /// <summary>Every whole disk (no partitions) sysfs lists now, with or without a medium.</summary>
    public IReadOnlyList<BlockDisk> ListDisks()
    {
        IEnumerable<string> names;
        try
        {
            names = [.. Directory.EnumerateFileSystemEntries(ClassBlock).Select(Path.GetFileName).OfType<string>()];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot list {ClassBlock}: {e.Message}", e);
        }

        return [.. names.Order(StringComparer.Ordinal).Select(TryReadDisk).OfType<BlockDisk>()];
    }

    /// <summary>The whole disk <paramref name="name"/> as sysfs shows it now, or null when there is
    /// no such disk (gone, never there, a partition, hidden).</summary>
    public BlockDisk? TryReadDisk(string name)
    {
        if (!IsKernelName(name))
        {
            return null;
        }

        try
        {
            var devicePath = ResolveDevicePath(Path.Join(ClassBlock, name));
            if (devicePath is null || File.Exists(Path.Join(devicePath, "partition")) || ReadAttribute(devicePath, "hidden") == "1")
            {
                return null;
            }

            var sectors = long.TryParse(ReadAttribute(devicePath, "size"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 0;
            ulong? diskSeq = ulong.TryParse(ReadAttribute(devicePath, "diskseq"), NumberStyles.None, CultureInfo.InvariantCulture, out var seq) ? seq : null;
            return new BlockDisk(
                name,
                DeviceNodeOf(devicePath, name),
                sectors * SectorBytes,
                diskSeq,
                ReadAttribute(devicePath, "removable") == "1",
                RunsThroughUsb(devicePath),
                PartitionsOf(devicePath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The whole disk a uevent's DEVPATH belongs to: the component right after the last "block"
    /// component ("/devices/virtual/block/loop0" and ".../block/sdb/sdb1" give "loop0" and "sdb"),
    /// or null for a path outside the block class.
    /// </summary>
    public static string? DiskNameOf(string devPath)
    {
        ArgumentNullException.ThrowIfNull(devPath);
        var parts = devPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var block = Array.LastIndexOf(parts, "block");
        return block >= 0 && block + 1 < parts.Length && IsKernelName(parts[block + 1]) ? parts[block + 1] : null;
    }

    /// <summary>True when the DEVPATH names the disk itself rather than one of its partitions.</summary>
    public static bool IsDiskPath(string devPath)
    {
        ArgumentNullException.ThrowIfNull(devPath);
        var parts = devPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && parts[^2] == "block" && IsKernelName(parts[^1]);
    }

    /// <summary>Kernel block device names: letters, digits and - _ . : only (never "." or "..").</summary>
    public static bool IsKernelName(string name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 64 && name is not ("." or "..") &&
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    private static string? ResolveDevicePath(string classEntry)
    {
        var target = Directory.ResolveLinkTarget(classEntry, returnFinalTarget: true);
        if (target is not null)
        {
            return target.Exists ? target.FullName : null;
        }

        // Old layouts had real directories under /sys/block.
        return Directory.Exists(classEntry) ? classEntry : null;
    }

    private static string DeviceNodeOf(string devicePath, string name)
    {
        // The uevent file's DEVNAME is what devtmpfs created under /dev; the kernel name otherwise.
        var uevent = ReadAttribute(devicePath, "uevent");
        var devName = uevent?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("DEVNAME=", StringComparison.Ordinal))?["DEVNAME=".Length..];
        return "/dev/" + (devName is not null && IsKernelName(devName) ? devName : name);
    }

    private static List<string> PartitionsOf(string devicePath) =>
        [.. Directory.EnumerateDirectories(devicePath)
            .Where(d => File.Exists(Path.Join(d, "partition")))
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(IsKernelName)
            .Order(StringComparer.Ordinal)];

    /// <summary>Walks up the device's ancestors in /sys/devices: one whose subsystem is "usb" means
    /// the disk sits behind a USB device (a stick, a card reader, a USB-SATA bridge).</summary>
    private bool RunsThroughUsb(string devicePath)
    {
        var devices = Path.Join(root, "devices");
        for (var directory = Path.GetDirectoryName(devicePath);
             directory is not null && directory.Length > devices.Length && directory.StartsWith(devices, StringComparison.Ordinal);
             directory = Path.GetDirectoryName(directory))
        {
            var subsystem = new FileInfo(Path.Join(directory, "subsystem")).LinkTarget;
            if (subsystem is not null && Path.GetFileName(subsystem) == "usb")
            {
                return true;
            }
        }

        return false;
    }

    private static string? ReadAttribute(string devicePath, string attribute)
    {
        try
        {
            return File.ReadAllText(Path.Join(devicePath, attribute)).Trim();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
