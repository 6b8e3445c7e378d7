namespace LuksVirt.Core.Usb;

/// <summary>Where on a stick its FAT file system lies. <see cref="PartitionNumber"/> is the MBR
/// entry (1 to 4), or null for a superfloppy (file system from byte 0, no partition table).</summary>
public readonly record struct FatVolumeLocation(long Offset, long Length, int? PartitionNumber);
