using System.Buffers.Binary;
using System.Security.Cryptography;

namespace LuksVirt.Core.Usb;

/// <summary>
/// One walk over the directory tree, breadth first and without recursion. Bounded by the
/// limits: directory depth, slots scanned in total, clusters per directory. Every directory
/// cluster may be visited once in the whole walk, so a chain loop, a subdirectory pointing back
/// at an ancestor and two directories sharing clusters all end in an error instead of a hang.
/// </summary>
internal sealed class DirectoryTreeScanner
{
    private const int EntrySize = 32;
    private const byte EndOfDirectory = 0x00;
    private const byte Deleted = 0xE5;
    private const byte LongNameAttributes = 0x0F;
    private const byte AttributeMask = 0x3F;

    private readonly VolumeReader _reader;
    private readonly FatAllocationTable _fat;
    private readonly FatBootSector _boot;
    private readonly FatReaderLimits _limits;
    private readonly byte[] _sector;
    private readonly LongNameAssembler _longName = new();
    private readonly HashSet<uint> _directoryClusters = [];
    private readonly Queue<(string Path, uint FirstCluster, int Depth)> _pending = new();
    private readonly List<FatFileEntry> _entries = [];
    private readonly int _scanDepth;
    private int _slotsScanned;

    private DirectoryTreeScanner(VolumeReader reader, FatAllocationTable fat, FatBootSector boot, FatReaderLimits limits, int scanDepth)
    {
        _reader = reader;
        _fat = fat;
        _boot = boot;
        _limits = limits;
        _scanDepth = scanDepth;
        _sector = new byte[boot.BytesPerSector];
    }

    /// <summary>Every entry below the root, and the clusters the scanned directories occupy.
    /// Directories more than <paramref name="scanDepth"/> levels below the root are listed but not
    /// entered; entering one deeper than <see cref="FatReaderLimits.MaxDirectoryDepth"/> is an error.</summary>
    public static (List<FatFileEntry> Entries, HashSet<uint> DirectoryClusters) Scan(VolumeReader reader, FatAllocationTable fat, FatBootSector boot, FatReaderLimits limits, int scanDepth = int.MaxValue)
    {
        var scanner = new DirectoryTreeScanner(reader, fat, boot, limits, scanDepth);
        try
        {
            if (boot.Type == FatType.Fat32)
            {
                scanner.ScanClusterDirectory(string.Empty, boot.RootCluster, depth: 0);
            }
            else
            {
                scanner.ScanFixedRootDirectory();
            }

            while (scanner._pending.TryDequeue(out var directory))
            {
                scanner.ScanClusterDirectory(directory.Path, directory.FirstCluster, directory.Depth);
            }

            return (scanner._entries, scanner._directoryClusters);
        }
        finally
        {
            // A damaged directory chain may have led into a key file's clusters.
            CryptographicOperations.ZeroMemory(scanner._sector);
        }
    }

    private void ScanFixedRootDirectory()
    {
        const string What = "the root directory";
        _longName.Reset();
        var remaining = _boot.RootDirectoryEntries;
        var offset = _boot.RootDirectoryOffset;
        while (remaining > 0)
        {
            _reader.ReadExactly(offset, _sector, What);
            var slots = Math.Min(remaining, _sector.Length / EntrySize);
            if (!ScanSlots(_sector.AsSpan(0, slots * EntrySize), string.Empty, depth: 0, What))
            {
                return;
            }

            remaining -= slots;
            offset += _sector.Length;
        }
    }

    private void ScanClusterDirectory(string path, uint firstCluster, int depth)
    {
        var what = path.Length == 0 ? "the root directory" : $"directory \"{path}\"";
        _longName.Reset();
        _fat.CheckCluster(firstCluster, what);
        var cluster = firstCluster;
        var clusters = 0;
        while (true)
        {
            if (!_directoryClusters.Add(cluster))
            {
                throw new FatFormatException($"{what} reaches cluster {cluster} a second time (a loop in its chain or in the directory tree, or a cross-link)");
            }

            if (++clusters > _limits.MaxDirectoryClusters)
            {
                throw new FatFormatException($"{what} is longer than the limit of {_limits.MaxDirectoryClusters} clusters");
            }

            var clusterOffset = _boot.ClusterOffset(cluster);
            for (var sector = 0; sector < _boot.SectorsPerCluster; sector++)
            {
                _reader.ReadExactly(clusterOffset + ((long)sector * _sector.Length), _sector, what);
                if (!ScanSlots(_sector, path, depth, what))
                {
                    return;
                }
            }

            var next = _fat.Next(cluster, what);
            if (next is null)
            {
                return;
            }

            cluster = next.Value;
        }
    }

    /// <summary>Returns false at the end-of-directory mark.</summary>
    private bool ScanSlots(ReadOnlySpan<byte> slots, string path, int depth, string what)
    {
        for (var offset = 0; offset + EntrySize <= slots.Length; offset += EntrySize)
        {
            if (++_slotsScanned > _limits.MaxEntriesScanned)
            {
                throw new FatFormatException($"the directories hold more than the limit of {_limits.MaxEntriesScanned} entries (reached in {what})");
            }

            var slot = slots.Slice(offset, EntrySize);
            if (slot[0] == EndOfDirectory)
            {
                return false;
            }

            if (slot[0] == Deleted)
            {
                _longName.Reset();
                continue;
            }

            var rawAttributes = (byte)(slot[11] & AttributeMask);
            if (rawAttributes == LongNameAttributes)
            {
                _longName.Add(slot);
                continue;
            }

            var shortNameBytes = slot[..ShortName.Length];
            var longName = _longName.Complete(shortNameBytes);
            var attributes = (FatAttributes)rawAttributes;
            if ((attributes & FatAttributes.VolumeId) != 0 || ShortName.IsDotEntry(shortNameBytes))
            {
                continue;
            }

            AddEntry(slot, longName, attributes, path, depth, what);
        }

        return true;
    }

    private void AddEntry(ReadOnlySpan<byte> slot, string? longName, FatAttributes attributes, string path, int depth, string what)
    {
        var shortName = ShortName.Decode(slot[..ShortName.Length], caseFlags: 0, what);
        var name = longName ?? ShortName.Decode(slot[..ShortName.Length], slot[12], what);
        uint low = BinaryPrimitives.ReadUInt16LittleEndian(slot[26..]);
        uint high = BinaryPrimitives.ReadUInt16LittleEndian(slot[20..]);
        // The high half exists on FAT32 only; FAT12/16 leave the field to other uses.
        var firstCluster = _boot.Type == FatType.Fat32 ? (high << 16) | low : low;
        var isDirectory = (attributes & FatAttributes.Directory) != 0;
        long size = isDirectory ? 0 : BinaryPrimitives.ReadUInt32LittleEndian(slot[28..]);

        var entry = new FatFileEntry(path, name, shortName, size, attributes, firstCluster);
        _entries.Add(entry);
        if (!isDirectory)
        {
            return;
        }

        var childPath = entry.Path;
        if (depth + 1 > _scanDepth)
        {
            // Below what the caller wants: not read at all, so it cannot hit a limit either.
            return;
        }

        if (depth + 1 > _limits.MaxDirectoryDepth)
        {
            throw new FatFormatException($"directory \"{childPath}\" is nested deeper than the limit of {_limits.MaxDirectoryDepth} levels");
        }

        _fat.CheckCluster(firstCluster, $"directory \"{childPath}\"");
        _pending.Enqueue((childPath, firstCluster, depth + 1));
    }
}
