using System.Buffers.Binary;

namespace LuksVirt.Core.Usb;

/// <summary>
/// Finds the FAT file system on a stick: either sector 0 is itself a FAT boot sector
/// (superfloppy, as <c>mkfs.vfat /dev/sdb</c> makes) or it is an MBR whose first FAT partition
/// holds it. GPT is refused with a clear message; extended partitions are not followed.
/// </summary>
public static class VolumeLocator
{
    /// <summary>MBR addresses count 512-byte sectors (USB sticks have 512-byte logical sectors).</summary>
    public const int MbrSectorSize = 512;

    private const int PartitionTableOffset = 446;
    private const int PartitionEntrySize = 16;
    private const int PartitionEntries = 4;
    private const byte GptProtective = 0xEE;

    // FAT12, FAT16 < 32 MiB, FAT16, FAT32 CHS, FAT32 LBA, FAT16 LBA.
    private static readonly byte[] FatPartitionTypes = [0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E];

    public static FatVolumeLocation Locate(IBlockSource device)
    {
        ArgumentNullException.ThrowIfNull(device);
        Span<byte> sector = stackalloc byte[MbrSectorSize];
        new VolumeReader(device, MbrSectorSize).ReadExactly(0, sector, "sector 0");

        if (sector[510] != 0x55 || sector[511] != 0xAA)
        {
            throw new FatFormatException("sector 0 has no 0x55AA signature: the stick holds neither a FAT file system nor an MBR partition table");
        }

        if (FatBootSector.LooksLikeBootSector(sector))
        {
            return new FatVolumeLocation(0, device.Length, PartitionNumber: null);
        }

        var deviceSectors = device.Length / MbrSectorSize;
        FatVolumeLocation? found = null;
        for (var i = 0; i < PartitionEntries; i++)
        {
            var entry = sector.Slice(PartitionTableOffset + (i * PartitionEntrySize), PartitionEntrySize);
            var number = i + 1;
            var status = entry[0];
            var type = entry[4];
            long start = BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]);
            long count = BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]);

            if (status is not (0x00 or 0x80))
            {
                throw new FatFormatException($"sector 0 is neither a FAT boot sector nor a valid MBR (partition {number} has status byte 0x{status:X2})");
            }

            if (type == 0)
            {
                continue;
            }

            if (type == GptProtective)
            {
                throw new FatFormatException("the stick has a GPT partition table, which is not supported: use an MBR partition table or no partition table (superfloppy)");
            }

            if (start == 0 || count == 0 || start + count > deviceSectors)
            {
                throw new FatFormatException($"MBR partition {number} (sectors {start} to {start + count - 1}) does not lie within the device ({deviceSectors} sectors)");
            }

            if (found is null && FatPartitionTypes.AsSpan().Contains(type))
            {
                found = new FatVolumeLocation(start * MbrSectorSize, count * MbrSectorSize, number);
            }
        }

        return found ?? throw new FatFormatException("the MBR partition table holds no FAT partition (types 0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E)");
    }
}
