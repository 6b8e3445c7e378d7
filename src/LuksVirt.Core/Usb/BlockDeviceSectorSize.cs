using System.Globalization;

namespace LuksVirt.Core.Usb;

/// <summary>
/// The logical sector size the kernel reports for a block device, from
/// /sys/dev/block/MAJOR:MINOR/queue/logical_block_size (a partition has no queue of its own: its
/// disk's is one level up). Partition tables on the device count in these sectors.
/// </summary>
internal static class BlockDeviceSectorSize
{
    private const string SysfsBlockDevices = "/sys/dev/block";

    /// <summary>512, 1024, 2048 or 4096; null when sysfs does not say (then 512 is assumed).</summary>
    public static int? Of(ulong rawDevice)
    {
        // glibc's gnu_dev_major / gnu_dev_minor.
        var major = ((rawDevice >> 32) & 0xFFFF_F000) | ((rawDevice >> 8) & 0x0000_0FFF);
        var minor = ((rawDevice >> 12) & 0xFFFF_FF00) | (rawDevice & 0x0000_00FF);
        var device = string.Create(CultureInfo.InvariantCulture, $"{SysfsBlockDevices}/{major}:{minor}");
        return ReadSize(Path.Combine(device, "queue", "logical_block_size"))
            ?? ReadSize(Path.Combine(device, "..", "queue", "logical_block_size"));
    }

    private static int? ReadSize(string path)
    {
        try
        {
            var text = File.ReadAllText(path).Trim();
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var size) && size is 512 or 1024 or 2048 or 4096
                ? size
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
