using System.Buffers.Binary;
using System.Security.Cryptography;

namespace LuksVirt.Core.Usb;

/// <summary>
/// One walk over the directory tree, breadth first and without recursion. Damage stays local: an
/// entry with an invalid 8.3 name is skipped, a directory whose chain loops, runs into a bad FAT
/// entry or off the device is read up to that point, and each is recorded in the listing's
/// skipped list; everything sound is still listed. Bounded by the limits, whose breach ends the
/// walk with an error: directory depth, slots scanned in total, clusters per directory, bytes
/// read. Every directory cluster may be visited once in the whole walk, so a chain loop, a
/// subdirectory pointing back at an ancestor and two directories sharing clusters cannot hang it.
/// </summary>
internal sealed class DirectoryTreeScanner
{
    private const int EntrySize = 32;
    private const byte EndOfDirectory = 0x00;
    private const byte Deleted = 0xE5;
    private const byte LongNameAttributes = 0x0F;
    private const byte AttributeMask = 0x3F;

    // Inner structures name the directory this way in skip reasons: its path is the skip's
    // Where, and a reason must not carry names.
    private const string TheDirectory = "the directory";

    private readonly FatVolume _volume;
    private readonly VolumeReader _reader;
    private readonly FatAllocationTable _fat;
    private readonly FatBootSector _boot;
    private readonly FatReaderLimits _limits;
    private readonly string _rootPath;
    private readonly byte[] _sector;
    private readonly LongNameAssembler _longName = new();
    private readonly HashSet<uint> _directoryClusters = [];
    private readonly Queue<(string Path, uint FirstCluster, int Depth)> _pending = new();
    private readonly List<FatFileEntry> _entries = [];
    private readonly SkippedList _skipped = new();
    private readonly int _scanDepth;
    private int _slotsScanned;

    // Slots of the directory being scanned so far: names an entry that has no showable name.
    private int _slotInDirectory;

    private DirectoryTreeScanner(FatVolume volume, VolumeReader reader, FatAllocationTable fat, FatBootSector boot, FatReaderLimits limits, int scanDepth, string rootPath)
    {
        _volume = volume;
        _reader = reader;
        _fat = fat;
        _boot = boot;
        _limits = limits;
        _scanDepth = scanDepth;
        _rootPath = rootPath;
        _sector = new byte[boot.BytesPerSector];
    }

    /// <summary>Every entry below the root that could be read, the clusters the scanned
    /// directories occupy, and what was skipped. Directories more than
    /// <paramref name="scanDepth"/> levels below the root are listed but not entered; entering
    /// one deeper than <see cref="FatReaderLimits.MaxDirectoryDepth"/> is an error. Paths start
    /// with <paramref name="rootPath"/> ("" for the volume's own root).</summary>
    public static DirectoryListing Scan(FatVolume volume, VolumeReader reader, FatAllocationTable fat, FatBootSector boot, FatReaderLimits limits, int scanDepth, string rootPath)
    {
        var scanner = new DirectoryTreeScanner(volume, reader, fat, boot, limits, scanDepth, rootPath);
        try
        {
            if (boot.Type == FatType.Fat32)
            {
                scanner.ScanClusterDirectory(rootPath, boot.RootCluster, depth: 0);
            }
            else
            {
                scanner.ScanFixedRootDirectory();
            }

            while (scanner._pending.TryDequeue(out var directory))
            {
                scanner.ScanClusterDirectory(directory.Path, directory.FirstCluster, directory.Depth);
            }

            return new DirectoryListing(scanner._entries, scanner._directoryClusters, scanner._skipped);
        }
        finally
        {
            // A damaged directory chain may have led into a key file's clusters.
            CryptographicOperations.ZeroMemory(scanner._sector);
        }
    }

    private void ScanFixedRootDirectory()
    {
        _longName.Reset();
        _slotInDirectory = 0;
        var remaining = _boot.RootDirectoryEntries;
        var offset = _boot.RootDirectoryOffset;
        try
        {
            while (remaining > 0)
            {
                _reader.ReadExactly(offset, _sector, TheDirectory);
                var slots = Math.Min(remaining, _sector.Length / EntrySize);
                if (!ScanSlots(_sector.AsSpan(0, slots * EntrySize), _rootPath, depth: 0, "the root directory"))
                {
                    return;
                }

                remaining -= slots;
                offset += _sector.Length;
            }
        }
        catch (FatFormatException e) when (!e.IsLimitExceeded)
        {
            SkipDirectory(_rootPath, e);
        }
    }

    private void ScanClusterDirectory(string path, uint firstCluster, int depth)
    {
        var what = path == _rootPath ? "the root directory" : $"directory \"{path}\"";
        _longName.Reset();
        _slotInDirectory = 0;
        var clusters = 0;
        try
        {
            _fat.CheckCluster(firstCluster, TheDirectory);
            var cluster = firstCluster;
            while (true)
            {
                if (!_directoryClusters.Add(cluster))
                {
                    throw new FatFormatException($"{TheDirectory} reaches cluster {cluster} a second time (a loop in its chain or in the directory tree, or a cross-link)");
                }

                if (++clusters > _limits.MaxDirectoryClusters)
                {
                    throw FatFormatException.LimitExceeded($"{what} is longer than the limit of {_limits.MaxDirectoryClusters} clusters");
                }

                var clusterOffset = _boot.ClusterOffset(cluster);
                for (var sector = 0; sector < _boot.SectorsPerCluster; sector++)
                {
                    _reader.ReadExactly(clusterOffset + ((long)sector * _sector.Length), _sector, TheDirectory);
                    if (!ScanSlots(_sector, path, depth, what))
                    {
                        return;
                    }
                }

                var next = _fat.Next(cluster, TheDirectory);
                if (next is null)
                {
                    return;
                }

                cluster = next.Value;
            }
        }
        catch (FatFormatException e) when (!e.IsLimitExceeded)
        {
            SkipDirectory(path, e);
        }
    }

    /// <summary>Records a directory read only up to a fault; its entries read so far stay listed.</summary>
    private void SkipDirectory(string path, FatFormatException fault)
    {
        var where = path == _rootPath ? (_rootPath.Length == 0 ? "/" : _rootPath + "/") : path;
        var consequence = _slotInDirectory == 0 ? "directory skipped" : $"the directory is read up to slot {_slotInDirectory}, the rest skipped";
        _skipped.Add(where, $"{fault.Message}; {consequence}");
    }

    /// <summary>Returns false at the end-of-directory mark.</summary>
    private bool ScanSlots(ReadOnlySpan<byte> slots, string path, int depth, string what)
    {
        for (var offset = 0; offset + EntrySize <= slots.Length; offset += EntrySize, _slotInDirectory++)
        {
            if (++_slotsScanned > _limits.MaxEntriesScanned)
            {
                throw FatFormatException.LimitExceeded($"the directories hold more than the limit of {_limits.MaxEntriesScanned} entries (reached in {what})");
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

            AddEntry(slot, longName, attributes, path, depth);
        }

        return true;
    }

    private void AddEntry(ReadOnlySpan<byte> slot, string? longName, FatAttributes attributes, string path, int depth)
    {
        string shortName;
        string name;
        try
        {
            shortName = ShortName.Decode(slot[..ShortName.Length], caseFlags: 0);
            name = longName ?? ShortName.Decode(slot[..ShortName.Length], slot[12]);
        }
        catch (FatFormatException e)
        {
            // A long name is valid by now (checked against the 8.3 bytes' checksum); without one
            // the entry is named by its position, never by the bad bytes.
            var shown = longName ?? $"(entry at slot {_slotInDirectory})";
            var isDirectory = (attributes & FatAttributes.Directory) != 0;
            _skipped.Add(Join(path, shown), $"{e.Message}; {(isDirectory ? "directory" : "entry")} skipped");
            return;
        }

        uint low = BinaryPrimitives.ReadUInt16LittleEndian(slot[26..]);
        uint high = BinaryPrimitives.ReadUInt16LittleEndian(slot[20..]);
        // The high half exists on FAT32 only; FAT12/16 leave the field to other uses.
        var firstCluster = _boot.Type == FatType.Fat32 ? (high << 16) | low : low;
        var entry = new FatFileEntry(_volume, path, name, shortName, Size(slot, attributes), attributes, firstCluster);
        _entries.Add(entry);
        if (!entry.IsDirectory)
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
            throw FatFormatException.LimitExceeded($"directory \"{childPath}\" is nested deeper than the limit of {_limits.MaxDirectoryDepth} levels");
        }

        _pending.Enqueue((childPath, firstCluster, depth + 1));
    }

    private static long Size(ReadOnlySpan<byte> slot, FatAttributes attributes) =>
        (attributes & FatAttributes.Directory) != 0 ? 0 : BinaryPrimitives.ReadUInt32LittleEndian(slot[28..]);

    private static string Join(string directory, string name) => directory.Length == 0 ? name : string.Concat(directory, "/", name);
}

/// <summary>One walk's result: entries, the clusters its directories occupy, what it skipped.</summary>
internal sealed record DirectoryListing(List<FatFileEntry> Entries, HashSet<uint> DirectoryClusters, SkippedList Skipped);
