using System.Buffers.Binary;
using LuksVirt.Core.Usb;

namespace LuksVirt.Tests.Usb;

/// <summary>The test's own, independent reading of a trusted image's geometry (made by
/// mkfs.vfat), used to aim mutations and patches at the right bytes.</summary>
public sealed record FatLayout(long VolumeOffset, FatType Type, int BytesPerSector, int SectorsPerCluster, int ReservedSectors, int NumberOfFats, long FatSectors, int RootEntries, uint RootCluster)
{
    public static FatLayout Read(ReadOnlySpan<byte> image, long volumeOffset, FatType type)
    {
        var boot = image.Slice((int)volumeOffset, 512);
        var fat16Size = BinaryPrimitives.ReadUInt16LittleEndian(boot[22..]);
        return new FatLayout(
            volumeOffset,
            type,
            BinaryPrimitives.ReadUInt16LittleEndian(boot[11..]),
            boot[13],
            BinaryPrimitives.ReadUInt16LittleEndian(boot[14..]),
            boot[16],
            fat16Size != 0 ? fat16Size : BinaryPrimitives.ReadUInt32LittleEndian(boot[36..]),
            BinaryPrimitives.ReadUInt16LittleEndian(boot[17..]),
            type == FatType.Fat32 ? BinaryPrimitives.ReadUInt32LittleEndian(boot[44..]) : 0);
    }

    public int ClusterSize => BytesPerSector * SectorsPerCluster;

    public long FatOffset => VolumeOffset + ((long)ReservedSectors * BytesPerSector);

    public long FatLength => FatSectors * BytesPerSector;

    public long RootDirectoryOffset => FatOffset + (NumberOfFats * FatLength);

    public long DataOffset => RootDirectoryOffset + ((((RootEntries * 32L) + BytesPerSector - 1) / BytesPerSector) * BytesPerSector);

    public long ClusterOffset(uint cluster) => DataOffset + ((cluster - 2L) * ClusterSize);

    /// <summary>Offset of the bytes that hold <paramref name="cluster"/>'s entry in the first FAT.</summary>
    public long FatEntryOffset(uint cluster) => FatOffset + Type switch
    {
        FatType.Fat12 => cluster + (cluster / 2),
        FatType.Fat16 => cluster * 2L,
        _ => cluster * 4L,
    };

    public uint ReadFatEntry(Func<long, byte> read, uint cluster)
    {
        var at = FatEntryOffset(cluster);
        return Type switch
        {
            FatType.Fat12 => (cluster & 1) == 0
                ? (uint)(read(at) | ((read(at + 1) & 0x0F) << 8))
                : (uint)((read(at) >> 4) | (read(at + 1) << 4)),
            FatType.Fat16 => (uint)(read(at) | (read(at + 1) << 8)),
            _ => (uint)(read(at) | (read(at + 1) << 8) | (read(at + 2) << 16) | (read(at + 3) << 24)) & 0x0FFFFFFF,
        };
    }

    /// <summary>Sets <paramref name="cluster"/>'s entry in the first FAT through a byte reader
    /// and writer (FAT12 entries share bytes with their neighbours).</summary>
    public void WriteFatEntry(Func<long, byte> read, Action<long, byte> write, uint cluster, uint value)
    {
        var at = FatEntryOffset(cluster);
        switch (Type)
        {
            case FatType.Fat12 when (cluster & 1) == 0:
                write(at, (byte)value);
                write(at + 1, (byte)((read(at + 1) & 0xF0u) | ((value >> 8) & 0x0Fu)));
                break;
            case FatType.Fat12:
                write(at, (byte)((read(at) & 0x0Fu) | ((value & 0x0Fu) << 4)));
                write(at + 1, (byte)(value >> 4));
                break;
            case FatType.Fat16:
                write(at, (byte)value);
                write(at + 1, (byte)(value >> 8));
                break;
            default:
                write(at, (byte)value);
                write(at + 1, (byte)(value >> 8));
                write(at + 2, (byte)(value >> 16));
                write(at + 3, (byte)((value >> 24) & 0x0F));
                break;
        }
    }
}
