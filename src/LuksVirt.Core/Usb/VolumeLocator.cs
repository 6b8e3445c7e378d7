namespace LuksVirt.Core.Usb;

/// <summary>
/// Finds where FAT file systems may lie on a stick: the whole stick when sector 0 is itself a
/// FAT boot sector (a superfloppy, as <c>mkfs.vfat /dev/sdb</c> makes), else every partition of
/// its MBR (primary, then logical; <see cref="MbrPartitionTable"/>) or of its GPT
/// (<see cref="GptPartitionTable"/>), in table order. Partition types are not trusted either
/// way: <see cref="FatStick"/> opens each partition's boot sector to see.
/// </summary>
internal static class VolumeLocator
{
    /// <summary>Sector 0 (MBR, boot sector) is read as 512 bytes whatever the sector size.</summary>
    public const int MbrSectorSize = 512;

    /// <summary>Logical partitions (extended boot records) followed per stick; the rest of a
    /// longer chain is skipped and reported.</summary>
    public const int MaxLogicalPartitions = MbrPartitionTable.MaxLogicalPartitions;

    /// <summary>Partitions kept from one table.</summary>
    public const int MaxPartitions = PartitionCollector.MaxPartitions;

    /// <summary>
    /// The partitions of <paramref name="device"/>. Partition tables count sectors of
    /// <paramref name="logicalSectorSize"/> bytes, or of the size the device reports
    /// (<see cref="IBlockSource.LogicalSectorSize"/>), or else 512 (an image file; a GPT is also
    /// looked for with 4096-byte sectors). Throws <see cref="FatFormatException"/> when sector 0
    /// is neither a FAT boot sector nor a valid MBR, or the GPT is damaged.
    /// </summary>
    public static PartitionLayout Locate(IBlockSource device, int? logicalSectorSize = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        return Locate(device, logicalSectorSize ?? device.LogicalSectorSize, new ReadBudget(FatReaderLimits.Default.MaxBytesRead));
    }

    internal static PartitionLayout Locate(IBlockSource device, int? reportedSectorSize, ReadBudget budget)
    {
        if (reportedSectorSize is { } size && size is not (512 or 1024 or 2048 or 4096))
        {
            throw new ArgumentOutOfRangeException(nameof(reportedSectorSize), size, "a logical sector size is 512, 1024, 2048 or 4096 bytes");
        }

        var reader = new VolumeReader(device, budget);
        Span<byte> sector = stackalloc byte[MbrSectorSize];
        reader.ReadExactly(0, sector, "sector 0");

        if (sector[510] != 0x55 || sector[511] != 0xAA)
        {
            throw new FatFormatException("sector 0 has no 0x55AA signature: the stick holds neither a FAT file system nor an MBR partition table");
        }

        if (FatBootSector.LooksLikeBootSector(sector))
        {
            var whole = new StickPartition(null, 0, device.Length, "no partition table");
            return new PartitionLayout(PartitionScheme.None, reportedSectorSize ?? MbrSectorSize, [whole], [], 0);
        }

        if (ForeignFileSystem.Identify(sector) is { } foreign)
        {
            throw new FatFormatException($"the stick {ForeignFileSystem.NotSupported(foreign)}");
        }

        MbrPartitionTable.CheckStatusBytes(sector);
        if (MbrPartitionTable.IsProtective(sector))
        {
            var gptSectorSize = GptPartitionTable.FindSectorSize(reader, reportedSectorSize);
            var gpt = new PartitionCollector(device.Length, gptSectorSize);
            GptPartitionTable.Read(reader, gpt);
            return new PartitionLayout(PartitionScheme.Gpt, gptSectorSize, gpt.Partitions, gpt.Skipped.Items, gpt.Skipped.NotListed);
        }

        var mbr = new PartitionCollector(device.Length, reportedSectorSize ?? MbrSectorSize);
        MbrPartitionTable.Read(reader, sector, mbr);
        return new PartitionLayout(PartitionScheme.Mbr, mbr.SectorSize, mbr.Partitions, mbr.Skipped.Items, mbr.Skipped.NotListed);
    }
}
