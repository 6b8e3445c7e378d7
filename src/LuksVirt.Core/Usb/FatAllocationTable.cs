namespace LuksVirt.Core.Usb;

/// <summary>
/// Reads cluster chains from the FAT, one sector at a time (never the whole table, whose size
/// the boot sector dictates). Every link is checked: free, bad, reserved and out-of-range values
/// are errors, and a chain that comes back to a cluster it already passed is a loop.
/// </summary>
internal sealed class FatAllocationTable
{
    private readonly VolumeReader _reader;
    private readonly FatBootSector _boot;
    private readonly byte[] _sector;
    private long _cachedSector = -1;

    public FatAllocationTable(VolumeReader reader, FatBootSector boot)
    {
        _reader = reader;
        _boot = boot;
        _sector = new byte[boot.BytesPerSector];
    }

    /// <summary>The cluster after <paramref name="cluster"/>, or null at the end of the chain.</summary>
    public uint? Next(uint cluster, string what)
    {
        CheckCluster(cluster, what);
        var value = ReadEntry(cluster);
        var (endOfChain, bad) = _boot.Type switch
        {
            FatType.Fat12 => (0xFF8u, 0xFF7u),
            FatType.Fat16 => (0xFFF8u, 0xFFF7u),
            _ => (0x0FFFFFF8u, 0x0FFFFFF7u),
        };

        if (value >= endOfChain)
        {
            return null;
        }

        if (value == bad)
        {
            throw new FatFormatException($"the cluster chain of {what} runs into a cluster marked bad (after cluster {cluster})");
        }

        if (value < 2)
        {
            throw new FatFormatException($"the cluster chain of {what} runs into a {(value == 0 ? "free" : "reserved")} FAT entry (after cluster {cluster})");
        }

        if (value > _boot.MaxCluster)
        {
            throw new FatFormatException($"the cluster chain of {what} points to cluster {value}, beyond the last cluster {_boot.MaxCluster}");
        }

        return value;
    }

    /// <summary>Throws unless <paramref name="cluster"/> is a data cluster of this volume.</summary>
    public void CheckCluster(uint cluster, string what)
    {
        if (cluster < 2 || cluster > _boot.MaxCluster)
        {
            throw new FatFormatException($"{what} refers to cluster {cluster}, outside clusters 2 to {_boot.MaxCluster}");
        }
    }

    private uint ReadEntry(uint cluster)
    {
        switch (_boot.Type)
        {
            case FatType.Fat12:
            {
                // 12-bit entries are packed in pairs into 3 bytes and may straddle two sectors.
                var offset = cluster + (cluster / 2L);
                var packed = (uint)(ByteAt(offset) | (ByteAt(offset + 1) << 8));
                return (cluster & 1) == 0 ? packed & 0xFFF : packed >> 4;
            }

            case FatType.Fat16:
            {
                var offset = cluster * 2L;
                return (uint)(ByteAt(offset) | (ByteAt(offset + 1) << 8));
            }

            default:
            {
                // The top 4 bits of a FAT32 entry are reserved and ignored.
                var offset = cluster * 4L;
                var raw = ByteAt(offset) | ((uint)ByteAt(offset + 1) << 8) | ((uint)ByteAt(offset + 2) << 16) | ((uint)ByteAt(offset + 3) << 24);
                return raw & 0x0FFFFFFF;
            }
        }
    }

    private byte ByteAt(long offsetInFat)
    {
        // The boot sector guaranteed the FAT covers every valid cluster; this guards the rest.
        if (offsetInFat >= _boot.FatLength)
        {
            throw new FatFormatException($"FAT entry offset {offsetInFat} lies beyond the FAT ({_boot.FatLength} bytes)");
        }

        var sector = offsetInFat / _boot.BytesPerSector;
        if (sector != _cachedSector)
        {
            _cachedSector = -1;
            _reader.ReadExactly(_boot.FatOffset + (sector * _boot.BytesPerSector), _sector, "the FAT");
            _cachedSector = sector;
        }

        return _sector[(int)(offsetInFat % _boot.BytesPerSector)];
    }
}
