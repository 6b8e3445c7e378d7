using System.Buffers.Binary;
using System.Numerics;

namespace LuksVirt.Core.Usb;

/// <summary>
/// The BIOS parameter block of a FAT volume, validated field by field (Microsoft's "FAT: General
/// Overview of On-Disk Format", sections 3 and 4), and the layout derived from it. A volume may
/// claim more bytes than the device holds (a truncated image, a stick that reports less than its
/// file system): it is read as far as the device goes, and every read past the end fails for
/// that one structure or file (<see cref="VolumeReader"/> checks each).
/// </summary>
internal sealed class FatBootSector
{
    public const int MinimumSectorSize = 512;

    // The specification's thresholds: fewer than 4085 clusters is FAT12, fewer than 65525 FAT16.
    private const long MaxFat12Clusters = 4084;
    private const long MaxFat16Clusters = 65524;

    // FAT32 cluster numbers are 28 bits; 0x0FFFFFF7 marks a bad cluster, so 0x0FFFFFF6 is the
    // highest usable number and 2..0x0FFFFFF6 gives this many clusters.
    private const long MaxFat32Clusters = 0x0FFFFFF5;

    private const int DirectoryEntrySize = 32;

    private FatBootSector()
    {
    }

    public int BytesPerSector { get; private init; }

    public int SectorsPerCluster { get; private init; }

    public int BytesPerCluster => BytesPerSector * SectorsPerCluster;

    public int NumberOfFats { get; private init; }

    public FatType Type { get; private init; }

    /// <summary>Data clusters; valid cluster numbers are 2 to <see cref="MaxCluster"/>.</summary>
    public long ClusterCount { get; private init; }

    public uint MaxCluster => (uint)(ClusterCount + 1);

    /// <summary>Byte offset of the FAT copy this reader uses (the active one on FAT32 without mirroring).</summary>
    public long FatOffset { get; private init; }

    public long FatLength { get; private init; }

    /// <summary>FAT12/16 only: the fixed root directory region.</summary>
    public long RootDirectoryOffset { get; private init; }

    public int RootDirectoryEntries { get; private init; }

    /// <summary>FAT32 only: first cluster of the root directory.</summary>
    public uint RootCluster { get; private init; }

    public long DataOffset { get; private init; }

    /// <summary>Bytes the file system claims; more than <see cref="DeviceLength"/> when truncated.</summary>
    public long VolumeLength { get; private init; }

    /// <summary>Bytes the device (or partition) holds.</summary>
    public long DeviceLength { get; private init; }

    public bool IsTruncated => VolumeLength > DeviceLength;

    public long ClusterOffset(uint cluster)
    {
        if (cluster < 2 || cluster > MaxCluster)
        {
            throw new FatFormatException($"cluster {cluster} is outside the data region (clusters 2 to {MaxCluster})");
        }

        return DataOffset + ((cluster - 2L) * BytesPerCluster);
    }

    /// <summary>Cheap shape test used to tell a boot sector from a partition table: a jump
    /// instruction and sane geometry bytes. <see cref="Parse"/> does the real validation.</summary>
    public static bool LooksLikeBootSector(ReadOnlySpan<byte> sector)
    {
        if (sector.Length < MinimumSectorSize || !HasJumpInstruction(sector))
        {
            return false;
        }

        var bytesPerSector = BinaryPrimitives.ReadUInt16LittleEndian(sector[11..]);
        var sectorsPerCluster = sector[13];
        var reservedSectors = BinaryPrimitives.ReadUInt16LittleEndian(sector[14..]);
        var numberOfFats = sector[16];
        return IsValidSectorSize(bytesPerSector)
            && BitOperations.IsPow2((uint)sectorsPerCluster)
            && reservedSectors > 0
            && numberOfFats is 1 or 2;
    }

    /// <summary>Validates the first <see cref="MinimumSectorSize"/> bytes of a volume of
    /// <paramref name="deviceLength"/> bytes.</summary>
    public static FatBootSector Parse(ReadOnlySpan<byte> sector, long deviceLength)
    {
        if (sector.Length < MinimumSectorSize)
        {
            throw new ArgumentException("a boot sector needs 512 bytes", nameof(sector));
        }

        if (sector[510] != 0x55 || sector[511] != 0xAA)
        {
            throw new FatFormatException("boot sector: no 0x55AA signature at offset 510 (not a FAT file system)");
        }

        if (!HasJumpInstruction(sector))
        {
            throw new FatFormatException($"boot sector: no jump instruction at offset 0 (0x{sector[0]:X2}): not a FAT file system");
        }

        int bytesPerSector = BinaryPrimitives.ReadUInt16LittleEndian(sector[11..]);
        if (!IsValidSectorSize(bytesPerSector))
        {
            throw new FatFormatException($"boot sector: bytes per sector {bytesPerSector} is not 512, 1024, 2048 or 4096");
        }

        int sectorsPerCluster = sector[13];
        if (!BitOperations.IsPow2((uint)sectorsPerCluster))
        {
            throw new FatFormatException($"boot sector: sectors per cluster {sectorsPerCluster} is not a power of two from 1 to 128");
        }

        long reservedSectors = BinaryPrimitives.ReadUInt16LittleEndian(sector[14..]);
        if (reservedSectors == 0)
        {
            throw new FatFormatException("boot sector: reserved sector count is 0");
        }

        int numberOfFats = sector[16];
        if (numberOfFats is not (1 or 2))
        {
            throw new FatFormatException($"boot sector: {numberOfFats} FATs (1 or 2 expected)");
        }

        int rootEntryCount = BinaryPrimitives.ReadUInt16LittleEndian(sector[17..]);
        long totalSectors16 = BinaryPrimitives.ReadUInt16LittleEndian(sector[19..]);
        var media = sector[21];
        long fatSize16 = BinaryPrimitives.ReadUInt16LittleEndian(sector[22..]);
        long totalSectors32 = BinaryPrimitives.ReadUInt32LittleEndian(sector[32..]);
        long fatSize32 = BinaryPrimitives.ReadUInt32LittleEndian(sector[36..]);
        var extendedFlags = BinaryPrimitives.ReadUInt16LittleEndian(sector[40..]);
        var fat32Version = BinaryPrimitives.ReadUInt16LittleEndian(sector[42..]);
        var rootCluster = BinaryPrimitives.ReadUInt32LittleEndian(sector[44..]);

        if (media is not (0xF0 or >= 0xF8))
        {
            throw new FatFormatException($"boot sector: media descriptor 0x{media:X2} is not a valid value");
        }

        var fatSize = fatSize16 != 0 ? fatSize16 : fatSize32;
        if (fatSize == 0)
        {
            throw new FatFormatException("boot sector: FAT size is 0");
        }

        var totalSectors = totalSectors16 != 0 ? totalSectors16 : totalSectors32;
        if (totalSectors == 0)
        {
            throw new FatFormatException("boot sector: total sector count is 0");
        }

        // All of these are products of at most 32-bit and 16-bit values: they fit a long. A
        // volume longer than the device is read as far as it goes (IsTruncated).
        var volumeLength = totalSectors * bytesPerSector;

        long rootDirectorySectors = ((rootEntryCount * DirectoryEntrySize) + bytesPerSector - 1) / bytesPerSector;
        var metadataSectors = reservedSectors + (numberOfFats * fatSize) + rootDirectorySectors;
        if (metadataSectors >= totalSectors)
        {
            throw new FatFormatException($"boot sector: reserved sectors, FATs and root directory ({metadataSectors} sectors) leave no data region in {totalSectors} sectors");
        }

        var clusterCount = (totalSectors - metadataSectors) / sectorsPerCluster;
        if (clusterCount == 0)
        {
            throw new FatFormatException("boot sector: the data region holds no whole cluster");
        }

        var type = clusterCount <= MaxFat12Clusters ? FatType.Fat12
            : clusterCount <= MaxFat16Clusters ? FatType.Fat16
            : FatType.Fat32;

        var activeFat = 0;
        if (type == FatType.Fat32)
        {
            if (clusterCount > MaxFat32Clusters)
            {
                throw new FatFormatException($"boot sector: {clusterCount} clusters exceed the FAT32 maximum of {MaxFat32Clusters}");
            }

            if (rootEntryCount != 0 || fatSize16 != 0)
            {
                throw new FatFormatException($"boot sector: {clusterCount} clusters make this FAT32, but it has a FAT12/16 root directory or FAT size field");
            }

            if (fat32Version != 0)
            {
                throw new FatFormatException($"boot sector: unknown FAT32 version {fat32Version >> 8}.{fat32Version & 0xFF}");
            }

            if (rootCluster < 2 || rootCluster > clusterCount + 1)
            {
                throw new FatFormatException($"boot sector: FAT32 root directory cluster {rootCluster} is outside clusters 2 to {clusterCount + 1}");
            }

            // Bit 7: mirroring off, bits 0-3 name the only FAT that is kept up to date.
            if ((extendedFlags & 0x80) != 0)
            {
                activeFat = extendedFlags & 0x0F;
                if (activeFat >= numberOfFats)
                {
                    throw new FatFormatException($"boot sector: active FAT {activeFat} does not exist ({numberOfFats} FATs)");
                }
            }
        }
        else
        {
            if (rootEntryCount == 0)
            {
                throw new FatFormatException($"boot sector: {clusterCount} clusters make this {type}, but the root directory has no entries");
            }

            if (fatSize16 == 0)
            {
                throw new FatFormatException($"boot sector: {clusterCount} clusters make this {type}, but the 16-bit FAT size is 0");
            }
        }

        var fatLength = fatSize * bytesPerSector;
        var bitsPerEntry = type switch
        {
            FatType.Fat12 => 12,
            FatType.Fat16 => 16,
            _ => 32,
        };
        var entriesInFat = fatLength * 8 / bitsPerEntry;
        if (entriesInFat < clusterCount + 2)
        {
            throw new FatFormatException($"boot sector: a FAT of {fatSize} sectors holds {entriesInFat} entries, too few for {clusterCount} clusters");
        }

        return new FatBootSector
        {
            BytesPerSector = bytesPerSector,
            SectorsPerCluster = sectorsPerCluster,
            NumberOfFats = numberOfFats,
            Type = type,
            ClusterCount = clusterCount,
            FatOffset = (reservedSectors + (activeFat * fatSize)) * bytesPerSector,
            FatLength = fatLength,
            RootDirectoryOffset = (reservedSectors + (numberOfFats * fatSize)) * bytesPerSector,
            RootDirectoryEntries = rootEntryCount,
            RootCluster = type == FatType.Fat32 ? rootCluster : 0,
            DataOffset = metadataSectors * bytesPerSector,
            VolumeLength = volumeLength,
            DeviceLength = deviceLength,
        };
    }

    private static bool HasJumpInstruction(ReadOnlySpan<byte> sector) => sector[0] == 0xE9 || (sector[0] == 0xEB && sector[2] == 0x90);

    private static bool IsValidSectorSize(int bytesPerSector) => bytesPerSector is 512 or 1024 or 2048 or 4096;
}
