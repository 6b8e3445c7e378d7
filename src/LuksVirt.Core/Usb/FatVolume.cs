using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Usb;

/// <summary>
/// A FAT12/16/32 file system read in user space, defensively: the stick is never mounted, so the
/// kernel never parses it, and this reader trusts none of its bytes. A damaged directory entry
/// or directory is skipped and listed in <see cref="Skipped"/>, the rest is still read; a bad
/// boot sector or a breached <see cref="FatReaderLimits"/> bound is a
/// <see cref="FatFormatException"/> for the whole volume, a damaged file one for that file.
/// Not thread-safe: one volume per reader.
/// </summary>
internal sealed class FatVolume
{
    private readonly VolumeReader _reader;
    private readonly FatBootSector _boot;
    private readonly FatAllocationTable _fat;
    private readonly FatReaderLimits _limits;

    // Clusters of all directories, from the latest listing: a file cross-linked into one is refused.
    private HashSet<uint> _directoryClusters = [];
    private SkippedList _skipped = new();

    private FatVolume(VolumeReader reader, FatBootSector boot, FatReaderLimits limits)
    {
        _reader = reader;
        _boot = boot;
        _limits = limits;
        _fat = new FatAllocationTable(reader, boot);
    }

    public FatType Type => _boot.Type;

    public long ClusterCount => _boot.ClusterCount;

    public int BytesPerCluster => _boot.BytesPerCluster;

    /// <summary>The file system claims more bytes than the device (or partition) holds: it is read
    /// as far as the device goes, and files beyond the end are refused one by one.</summary>
    public bool IsTruncated => _boot.IsTruncated;

    /// <summary>Bytes read from the device so far, counted against <see cref="FatReaderLimits.MaxBytesRead"/>.</summary>
    public long BytesRead => _reader.BytesRead;

    /// <summary>What the latest listing skipped (at most <see cref="MaxSkippedListed"/>, the rest
    /// counted in <see cref="SkippedNotListed"/>), the truncation of the volume first.</summary>
    public IReadOnlyList<SkippedOnStick> Skipped => _skipped.Items;

    public int SkippedNotListed => _skipped.NotListed;

    /// <summary>Skipped items kept in <see cref="Skipped"/>; more are only counted.</summary>
    public static int MaxSkippedListed => SkippedList.MaxListed;

    /// <summary>Opens the file system that starts at byte 0 of <paramref name="volume"/> (a
    /// partition, or a superfloppy stick). Validates the boot sector.</summary>
    public static FatVolume Open(IBlockSource volume, FatReaderLimits? limits = null)
    {
        limits ??= FatReaderLimits.Default;
        limits.Validate();
        return Open(volume, limits, new ReadBudget(limits.MaxBytesRead));
    }

    /// <summary>Opens a volume whose reads count against a budget shared with the rest of the stick.</summary>
    internal static FatVolume Open(IBlockSource volume, FatReaderLimits limits, ReadBudget budget)
    {
        ArgumentNullException.ThrowIfNull(volume);
        var reader = new VolumeReader(volume, budget);
        Span<byte> sector = stackalloc byte[FatBootSector.MinimumSectorSize];
        reader.ReadExactly(0, sector, "the boot sector");
        return new FatVolume(reader, FatBootSector.Parse(sector, volume.Length), limits);
    }

    /// <summary>Opens the first FAT file system of a whole stick: the stick itself when it has no
    /// partition table, else the first partition (MBR primary or logical, or GPT) that holds one
    /// (see <see cref="FatStick"/>, which opens them all).</summary>
    public static FatVolume OpenDevice(IBlockSource device, FatReaderLimits? limits = null) =>
        FatStick.Open(device, limits).Volumes[0].Volume;

    /// <summary>Every file and directory below the root (not "." and "..", deleted entries or
    /// the volume label), breadth first; damaged entries and directories are left out and listed
    /// in <see cref="Skipped"/>.</summary>
    public IReadOnlyList<FatFileEntry> EnumerateEntries() => Scan(int.MaxValue, rootPath: string.Empty);

    /// <summary>
    /// Entries at most <paramref name="maxDepth"/> directory levels below the root (0: the root's
    /// own entries only). Deeper directories are not read at all, so a stick whose other
    /// content is nested deeper than <see cref="FatReaderLimits.MaxDirectoryDepth"/> still works.
    /// </summary>
    public IReadOnlyList<FatFileEntry> EnumerateEntries(int maxDepth)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDepth);
        return Scan(maxDepth, rootPath: string.Empty);
    }

    /// <summary>As <see cref="EnumerateEntries(int)"/>, with every path under
    /// <paramref name="rootPath"/> (the partition's name on a stick with several FAT partitions).</summary>
    internal List<FatFileEntry> Scan(int maxDepth, string rootPath)
    {
        var listing = DirectoryTreeScanner.Scan(this, _reader, _fat, _boot, _limits, maxDepth, rootPath);
        _directoryClusters = listing.DirectoryClusters;
        _skipped = new SkippedList();
        if (_boot.IsTruncated)
        {
            _skipped.Add(
                rootPath.Length == 0 ? "/" : rootPath + "/",
                $"the file system claims {_boot.VolumeLength} bytes but the device holds only {_boot.DeviceLength} (a truncated image, or a stick that reports less than it holds): what lies beyond is skipped, files there are refused one by one");
        }

        _skipped.AddRange(listing.Skipped.Items, listing.Skipped.NotListed);
        return listing.Entries;
    }
    /// <summary>Every file (no directories) below the root, with its full path.</summary>
    public IReadOnlyList<FatFileEntry> EnumerateFiles() => [.. EnumerateEntries().Where(entry => !entry.IsDirectory)];

    /// <summary>
    /// Reads a file's content straight from its clusters into a <see cref="SecretBuffer"/> (no
    /// other copy is made). The file must hold 1 to <paramref name="maxBytes"/> bytes (and no more
    /// than <see cref="FatReaderLimits.MaxFileSize"/>), and its cluster chain must hold exactly
    /// the clusters its size needs: a shorter or longer chain is an error, never a partial key.
    /// </summary>
    public SecretBuffer ReadFile(FatFileEntry entry, int maxBytes = SecretBuffer.MaxKeyLength)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        if (entry.IsDirectory)
        {
            throw new ArgumentException($"\"{entry.Path}\" is a directory", nameof(entry));
        }

        if (entry.Volume != this)
        {
            // Its cluster numbers would name another volume's clusters here.
            throw new ArgumentException($"\"{entry.Path}\" belongs to another volume", nameof(entry));
        }

        var what = $"file \"{entry.Path}\"";
        var limit = Math.Min(maxBytes, _limits.MaxFileSize);
        if (entry.Size == 0)
        {
            throw new FatFormatException($"{what} is empty");
        }

        if (entry.Size > limit)
        {
            throw new FatFormatException($"{what} holds {entry.Size} bytes, more than the limit of {limit}");
        }

        var size = (int)entry.Size;
        var clustersNeeded = (size + _boot.BytesPerCluster - 1) / _boot.BytesPerCluster;
        var cluster = entry.FirstCluster;
        _fat.CheckCluster(cluster, what);

        var content = SecretBuffer.Allocate(size);
        try
        {
            var destination = content.WritableSpan;
            var visited = new HashSet<uint>(clustersNeeded);
            var written = 0;
            for (var index = 0; index < clustersNeeded; index++)
            {
                if (!visited.Add(cluster))
                {
                    throw new FatFormatException($"the cluster chain of {what} loops back to cluster {cluster}");
                }

                if (_directoryClusters.Contains(cluster))
                {
                    throw new FatFormatException($"{what} shares cluster {cluster} with a directory (cross-linked)");
                }

                var chunk = Math.Min(_boot.BytesPerCluster, size - written);
                _reader.ReadExactly(_boot.ClusterOffset(cluster), destination.Slice(written, chunk), what);
                written += chunk;

                var next = _fat.Next(cluster, what);
                var isLast = index == clustersNeeded - 1;
                if (isLast && next is not null)
                {
                    throw new FatFormatException($"the cluster chain of {what} is longer than its size of {size} bytes needs ({clustersNeeded} clusters)");
                }

                if (!isLast)
                {
                    cluster = next ?? throw new FatFormatException($"the cluster chain of {what} ends after {index + 1} clusters, its size of {size} bytes needs {clustersNeeded}");
                }
            }

            return content;
        }
        catch
        {
            // Never hand out, or leave behind, a partly read key.
            content.Dispose();
            throw;
        }
    }
}
