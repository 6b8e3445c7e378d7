namespace LuksVirt.Core.Devices;

/// <summary>
/// A whole block device (a stick, a card reader, a loop device) as sysfs shows it at one moment.
/// Partitions are not watched on their own: the FAT reader reads the whole disk and finds the
/// partition itself, so disk and partition events of one stick lead to one read.
/// </summary>
/// <param name="Name">Kernel name, e.g. "sdb" or "loop3".</param>
/// <param name="DeviceNode">Its node, e.g. "/dev/sdb".</param>
/// <param name="SizeBytes">0 when there is no medium (an empty card reader, a detached loop device).</param>
/// <param name="DiskSeq">The kernel's sequence number for the medium (Linux 5.15+): a new stick
/// or a re-attached loop device gets a new one, so a duplicate event is told from a new medium.</param>
/// <param name="Removable">sysfs "removable" of the disk.</param>
/// <param name="OnUsbBus">Its sysfs device path runs through a USB device.</param>
/// <param name="PartitionNames">Kernel names of its partitions, e.g. "sdb1".</param>
public sealed record BlockDisk(
    string Name,
    string DeviceNode,
    long SizeBytes,
    ulong? DiskSeq,
    bool Removable,
    bool OnUsbBus,
    IReadOnlyList<string> PartitionNames)
{
    public bool HasMedium => SizeBytes > 0;

    /// <summary>The same medium still in the same slot: same name, same disk sequence number.</summary>
    public bool IsSameMedium(BlockDisk other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Name == other.Name && DiskSeq == other.DiskSeq;
    }

    public override string ToString() => Name;
}

public enum BlockDiskChangeKind
{
    /// <summary>A matching disk now has a medium: read it.</summary>
    Appeared,

    /// <summary>The medium seen before is gone (unplugged, ejected, detached).</summary>
    Removed,
}

/// <summary>What a watcher reports: a medium appeared on a matching disk, or the one seen before went away.</summary>
public sealed record BlockDiskChange(BlockDiskChangeKind Kind, BlockDisk Disk);
