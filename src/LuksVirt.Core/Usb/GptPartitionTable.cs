using System.Buffers.Binary;
using System.Numerics;

namespace LuksVirt.Core.Usb;

/// <summary>
/// A GUID partition table (UEFI specification, chapter 5): the header at LBA 1 and its entry
/// array, both trusted only when their CRC32s match. Every used entry is handed on whatever its
/// type GUID; whether a partition holds FAT is for its boot sector to say. The primary table
/// alone is read: a damaged one is refused with the reason (the backup copy at the end of the
/// stick is not consulted; gdisk or sgdisk restores the primary from it).
/// </summary>
internal static class GptPartitionTable
{
    /// <summary>Bytes of partition entries read at most (the usual table: 128 x 128 = 16 KiB).</summary>
    public const int MaxEntryArrayBytes = 1024 * 1024;

    private const int MinimumHeaderSize = 92;
    private const int MinimumEntrySize = 128;
    private const int ChunkSize = 4096;
    private const uint Revision1 = 0x0001_0000;

    private static readonly Dictionary<Guid, string> KnownTypes = new()
    {
        [new Guid("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7")] = "Microsoft basic data",
        [new Guid("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")] = "EFI System",
        [new Guid("E3C9E316-0B5C-4DB8-817D-F92DF00215AE")] = "Microsoft reserved",
        [new Guid("0FC63DAF-8483-4772-8E79-3D69D8477DE4")] = "Linux filesystem",
        [new Guid("CA7D7CCB-63ED-4C53-861C-1742536059CC")] = "Linux LUKS",
    };

    private static ReadOnlySpan<byte> Signature => "EFI PART"u8;

    /// <summary>
    /// The logical sector size the table was written with: the one the device reports, or, for
    /// an image (nothing reported), 512 and then 4096, whichever has the header at LBA 1. Throws
    /// when no header is found.
    /// </summary>
    public static int FindSectorSize(VolumeReader reader, int? reportedSectorSize)
    {
        int[] candidates = reportedSectorSize is { } reported ? [reported] : [512, 4096];
        Span<byte> signature = stackalloc byte[8];
        foreach (var sectorSize in candidates)
        {
            if (reader.Length >= 2L * sectorSize)
            {
                reader.ReadExactly(sectorSize, signature, "the GPT header");
                if (signature.SequenceEqual(Signature))
                {
                    return sectorSize;
                }
            }
        }

        throw new FatFormatException($"the MBR marks a GPT stick (type 0xEE), but there is no GPT header (\"EFI PART\") at LBA 1 with {string.Join(" or ", candidates)}-byte sectors: the table is damaged (repair it with gdisk, which can rebuild it from its backup)");
    }

    public static void Read(VolumeReader reader, PartitionCollector partitions)
    {
        var sectorSize = partitions.SectorSize;
        var header = new byte[sectorSize];
        reader.ReadExactly(sectorSize, header, "the GPT header");
        var headerSize = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(12));
        if (headerSize < MinimumHeaderSize || headerSize > sectorSize)
        {
            throw new FatFormatException($"the GPT header gives its size as {headerSize} bytes (expected {MinimumHeaderSize} to {sectorSize}): the table is damaged (repair it with gdisk)");
        }

        var storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(16));
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), 0);
        if (Crc32.Compute(header.AsSpan(0, (int)headerSize)) != storedCrc)
        {
            throw new FatFormatException("the GPT header's CRC32 does not match its content: the table is damaged (the backup at the end of the stick is not read; repair with gdisk, which can rebuild it from the backup)");
        }

        var revision = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8));
        var myLba = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(24));
        var entriesLba = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(72));
        var entryCount = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(80));
        var entrySize = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(84));
        var entriesCrc = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(88));
        if (revision >> 16 != Revision1 >> 16)
        {
            throw new FatFormatException($"the GPT header has revision {revision >> 16}.{revision & 0xFFFF}, not 1.x: not supported");
        }

        if (myLba != 1)
        {
            throw new FatFormatException($"the GPT header at LBA 1 says it lies at LBA {myLba}: it is a backup header or damaged (repair with gdisk)");
        }

        if (entrySize < MinimumEntrySize || entrySize > ChunkSize || !BitOperations.IsPow2(entrySize))
        {
            throw new FatFormatException($"the GPT header gives a partition entry size of {entrySize} bytes (expected 128 times a power of two, at most {ChunkSize}): not supported");
        }

        var arrayBytes = (ulong)entryCount * entrySize;
        if (arrayBytes > MaxEntryArrayBytes)
        {
            throw new FatFormatException($"the GPT lists {entryCount} partition entries of {entrySize} bytes, more than the limit of {MaxEntryArrayBytes} bytes");
        }

        if (entriesLba < 2 || entriesLba >= partitions.DeviceSectors || (entriesLba * (ulong)sectorSize) + arrayBytes > (ulong)reader.Length)
        {
            throw new FatFormatException($"the GPT partition entries at LBA {entriesLba} ({arrayBytes} bytes) do not lie within the device: the table is damaged or the image truncated");
        }

        var used = ReadEntries(reader, (long)entriesLba * sectorSize, (int)entryCount, (int)entrySize, entriesCrc);
        foreach (var (index, type, first, last) in used)
        {
            var name = KnownTypes.TryGetValue(type, out var known) ? known : type.ToString("D").ToUpperInvariant();
            partitions.Add(index + 1, $"GPT type {name}", first, last);
        }
    }

    /// <summary>The used entries (type GUID not zero), once the CRC32 over the whole array matches.</summary>
    private static List<(int Index, Guid Type, ulong First, ulong Last)> ReadEntries(VolumeReader reader, long offset, int entryCount, int entrySize, uint expectedCrc)
    {
        var used = new List<(int, Guid, ulong, ulong)>();
        var chunk = new byte[ChunkSize];
        var crc = Crc32.Start;
        var total = (long)entryCount * entrySize;
        var index = 0;
        for (long done = 0; done < total; done += chunk.Length)
        {
            // Entry sizes are powers of two up to the chunk size: no entry straddles two chunks.
            var part = chunk.AsSpan(0, (int)Math.Min(chunk.Length, total - done));
            reader.ReadExactly(offset + done, part, "the GPT partition entries");
            crc = Crc32.Append(crc, part);
            for (var at = 0; at < part.Length; at += entrySize, index++)
            {
                var entry = part.Slice(at, entrySize);
                var type = new Guid(entry[..16]);
                if (type != Guid.Empty)
                {
                    used.Add((index, type, BinaryPrimitives.ReadUInt64LittleEndian(entry[32..]), BinaryPrimitives.ReadUInt64LittleEndian(entry[40..])));
                }
            }
        }

        if (Crc32.Finish(crc) != expectedCrc)
        {
            throw new FatFormatException("the CRC32 of the GPT partition entries does not match the header: the table is damaged (the backup at the end of the stick is not read; repair with gdisk, which can rebuild it from the backup)");
        }

        return used;
    }
}
