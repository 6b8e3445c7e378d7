using System.Buffers.Binary;

namespace LuksVirt.Core.Usb;

/// <summary>
/// An MBR partition table: the four primary entries of sector 0, then the logical partitions of
/// each extended partition, found by walking its chain of extended boot records (EBRs). The walk
/// is bounded (<see cref="MaxLogicalPartitions"/> EBRs in all), refuses to visit an EBR twice
/// (a chain that loops) or outside its extended partition; a broken chain is skipped from the
/// break on and reported, the partitions before it are kept. Numbers follow Linux: primaries 1
/// to 4, logical partitions from 5 in chain order.
/// </summary>
internal static class MbrPartitionTable
{
    /// <summary>Extended boot records read per stick, so logical partitions at most.</summary>
    public const int MaxLogicalPartitions = 64;

    public const int TableOffset = 446;
    public const int EntrySize = 16;
    public const int Entries = 4;
    public const byte GptProtective = 0xEE;

    // CHS extended, LBA extended, Linux extended.
    private static readonly byte[] ExtendedTypes = [0x05, 0x0F, 0x85];

    /// <summary>Throws unless every entry's status byte is 0x00 or 0x80: anything else means
    /// sector 0 is no partition table at all.</summary>
    public static void CheckStatusBytes(ReadOnlySpan<byte> sector0)
    {
        for (var i = 0; i < Entries; i++)
        {
            var status = Entry(sector0, i)[0];
            if (status is not (0x00 or 0x80))
            {
                throw new FatFormatException($"sector 0 is neither a FAT boot sector nor a valid MBR (partition {i + 1} has status byte 0x{status:X2})");
            }
        }
    }

    /// <summary>A protective (or hybrid) MBR: the stick is partitioned by its GPT.</summary>
    public static bool IsProtective(ReadOnlySpan<byte> sector0)
    {
        for (var i = 0; i < Entries; i++)
        {
            if (Entry(sector0, i)[4] == GptProtective)
            {
                return true;
            }
        }

        return false;
    }

    public static void Read(VolumeReader reader, ReadOnlySpan<byte> sector0, PartitionCollector partitions)
    {
        var extended = new List<(int Number, ulong First, ulong Count)>();
        for (var i = 0; i < Entries; i++)
        {
            var (type, first, count) = Parse(Entry(sector0, i));
            if (type == 0)
            {
                continue;
            }

            if (ExtendedTypes.AsSpan().Contains(type))
            {
                extended.Add((i + 1, first, count));
                continue;
            }

            AddPartition(partitions, i + 1, $"MBR type 0x{type:X2}", first, count);
        }

        var walk = new ChainWalk(reader, partitions);
        foreach (var (number, first, count) in extended)
        {
            walk.Follow(number, first, count);
        }
    }

    private static void AddPartition(PartitionCollector partitions, int number, string description, ulong first, ulong count)
    {
        if (count == 0)
        {
            partitions.Skipped.Add($"partition {number}", $"{description}, starting at sector {first}: has no sectors; not searched");
            return;
        }

        partitions.Add(number, description, first, first + count - 1);
    }

    private static ReadOnlySpan<byte> Entry(ReadOnlySpan<byte> sector, int index) => sector.Slice(TableOffset + (index * EntrySize), EntrySize);

    private static (byte Type, ulong First, ulong Count) Parse(ReadOnlySpan<byte> entry) =>
        (entry[4], BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]), BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]));

    /// <summary>The walk over every extended partition's EBR chain, sharing one bound and one
    /// numbering.</summary>
    private sealed class ChainWalk(VolumeReader reader, PartitionCollector partitions)
    {
        private readonly HashSet<ulong> _visited = [];
        private int _nextNumber = 5;

        public void Follow(int extendedNumber, ulong extendedFirst, ulong extendedCount)
        {
            var where = $"partition {extendedNumber}";
            if (extendedCount == 0)
            {
                partitions.Skipped.Add(where, $"extended partition starting at sector {extendedFirst}: has no sectors; not searched");
                return;
            }

            var extendedLast = extendedFirst + extendedCount - 1;
            Span<byte> sector = stackalloc byte[VolumeLocator.MbrSectorSize];
            var ebr = extendedFirst;
            while (true)
            {
                if (_visited.Count == MaxLogicalPartitions)
                {
                    partitions.Skipped.Add(where, $"extended partition: more than {MaxLogicalPartitions} logical partitions; the rest of its chain is not searched");
                    return;
                }

                if (!_visited.Add(ebr))
                {
                    partitions.Skipped.Add(where, $"extended partition: its chain of logical partitions loops back to sector {ebr}; the rest is not searched");
                    return;
                }

                if (ebr < extendedFirst || ebr > extendedLast || ebr >= partitions.DeviceSectors)
                {
                    partitions.Skipped.Add(where, $"extended partition (sectors {extendedFirst} to {extendedLast}): an extended boot record at sector {ebr} lies outside it or beyond the end of the device; the rest of its chain is not searched");
                    return;
                }

                try
                {
                    reader.ReadExactly((long)ebr * partitions.SectorSize, sector, "an extended boot record");
                }
                catch (FatFormatException e) when (!e.IsLimitExceeded)
                {
                    partitions.Skipped.Add(where, $"extended partition: {e.Message}; the rest of its chain is not searched");
                    return;
                }

                if (sector[510] != 0x55 || sector[511] != 0xAA)
                {
                    partitions.Skipped.Add(where, $"extended partition: the extended boot record at sector {ebr} has no 0x55AA signature; the rest of its chain is not searched");
                    return;
                }

                // Entry 1: a logical partition, relative to this EBR. Entry 2: the next EBR,
                // relative to the extended partition's start. Entries 3 and 4 are unused.
                var (type, relativeFirst, count) = Parse(Entry(sector, 0));
                if (type != 0)
                {
                    var number = _nextNumber++;
                    if (ExtendedTypes.AsSpan().Contains(type))
                    {
                        partitions.Skipped.Add($"partition {number}", $"MBR type 0x{type:X2}: an extended partition inside an extended partition; not searched");
                    }
                    else
                    {
                        AddPartition(partitions, number, $"MBR type 0x{type:X2}, logical", ebr + relativeFirst, count);
                    }
                }

                var (nextType, nextRelative, _) = Parse(Entry(sector, 1));
                if (nextType == 0)
                {
                    return;
                }

                if (!ExtendedTypes.AsSpan().Contains(nextType))
                {
                    partitions.Skipped.Add(where, $"extended partition: the extended boot record at sector {ebr} links to type 0x{nextType:X2} instead of the next record; the rest of its chain is not searched");
                    return;
                }

                ebr = extendedFirst + nextRelative;
            }
        }
    }
}
