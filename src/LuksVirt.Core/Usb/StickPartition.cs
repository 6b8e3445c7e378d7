namespace LuksVirt.Core.Usb;

/// <summary>How a stick is divided: not at all (a superfloppy, file system from byte 0), by an
/// MBR (primary and logical partitions), or by a GPT.</summary>
internal enum PartitionScheme
{
    None,
    Mbr,
    Gpt,
}

/// <summary>
/// A place on a stick where a FAT file system may start: a partition, or the whole stick. Only
/// its boot sector decides whether it holds one, never its type.
/// </summary>
/// <param name="Number">As Linux numbers it: MBR primary 1 to 4, logical from 5 in chain order;
/// GPT entry index plus one. Null for a stick without a partition table.</param>
/// <param name="Offset">Byte offset on the stick.</param>
/// <param name="Length">Bytes, cut at the end of the device when the table claims more.</param>
/// <param name="Description">The type as the table gives it, e.g. "MBR type 0x0C" or
/// "GPT type Microsoft basic data".</param>
internal sealed record StickPartition(int? Number, long Offset, long Length, string Description)
{
    /// <summary>"partition 5", or "the stick" when there is no partition table.</summary>
    public string Name => Number is { } number ? $"partition {number}" : "the stick";
}

/// <summary>What <see cref="VolumeLocator"/> found: the partitions in table order, and what of
/// the table it skipped (a broken chain of logical partitions, a partition beyond the end).</summary>
internal sealed record PartitionLayout(
    PartitionScheme Scheme,
    int SectorSize,
    IReadOnlyList<StickPartition> Partitions,
    IReadOnlyList<SkippedOnStick> Skipped,
    int SkippedNotListed);
