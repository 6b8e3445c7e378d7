namespace LuksVirt.Core.Usb;

/// <summary>Names the file systems sticks often carry that this reader does not read, from their
/// boot sector's signature, so a refusal can say what it found instead of "not FAT".</summary>
internal static class ForeignFileSystem
{
    /// <summary>"exFAT", "NTFS", or null when the sector shows neither.</summary>
    public static string? Identify(ReadOnlySpan<byte> bootSector)
    {
        if (bootSector.Length < 11)
        {
            return null;
        }

        var oemName = bootSector[3..11];
        return oemName.SequenceEqual("EXFAT   "u8) ? "exFAT"
            : oemName.SequenceEqual("NTFS    "u8) ? "NTFS"
            : null;
    }

    /// <summary>Why a file system is not read, and the fix.</summary>
    public static string NotSupported(string fileSystem) =>
        $"holds {fileSystem}, which this reader does not support (key sticks need FAT12, FAT16 or FAT32: mkfs.vfat -F 32)";
}
