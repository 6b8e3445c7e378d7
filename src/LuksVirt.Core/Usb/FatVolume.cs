using LuksVirt.Secrets;

namespace LuksVirt.Core.Usb;

/// <summary>
/// A FAT12/16/32 file system read in user space, defensively: the stick is never mounted, so the
/// kernel never parses it, and this reader trusts none of its bytes. Every failure is a
/// <see cref="FatFormatException"/> naming the damaged structure; work and memory are bounded
/// by <see cref="FatReaderLimits"/>. Not thread-safe: one volume per reader.
/// </summary>
public sealed class FatVolume
{
    private readonly VolumeReader _reader;
    private readonly FatBootSector _boot;
    private readonly FatAllocationTable _fat;
    private readonly FatReaderLimits _limits;

    // Clusters of all directories, from the latest listing: a file cross-linked into one is refused.
    private HashSet<uint> _directoryClusters = [];

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

    /// <summary>Bytes read from the device so far, counted against <see cref="FatReaderLimits.MaxBytesRead"/>.</summary>
    public long BytesRead => _reader.BytesRead;

    /// <summary>Opens the file system that starts at byte 0 of <paramref name="volume"/> (a
    /// partition, or a superfloppy stick). Validates the boot sector.</summary>
    public static FatVolume Open(IBlockSource volume, FatReaderLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(volume);
        limits ??= FatReaderLimits.Default;
        limits.Validate();

        var reader = new VolumeReader(volume, limits.MaxBytesRead);
        Span<byte> sector = stackalloc byte[FatBootSector.MinimumSectorSize];
        reader.ReadExactly(0, sector, "the boot sector");
        return new FatVolume(reader, FatBootSector.Parse(sector, volume.Length), limits);
    }

    /// <summary>Opens the FAT file system of a whole stick: the first FAT partition of its MBR,
    /// or the stick itself when it has no partition table (see <see cref="VolumeLocator"/>).</summary>
    public static FatVolume OpenDevice(IBlockSource device, FatReaderLimits? limits = null)
    {
        var location = VolumeLocator.Locate(device);
        return Open(new BlockSourceSlice(device, location.Offset, location.Length), limits);
    }

    /// <summary>Every file and directory below the root (not "." and "..", deleted entries or
    /// the volume label), breadth first.</summary>
    public IReadOnlyList<FatFileEntry> EnumerateEntries() => Scan(int.MaxValue);

    /// <summary>
    /// Entries at most <paramref name="maxDepth"/> directory levels below the root (0: the root's
    /// own entries only). Deeper directories are not read at all, so a stick whose other
    /// content is nested deeper than <see cref="FatReaderLimits.MaxDirectoryDepth"/> still works.
    /// </summary>
    public IReadOnlyList<FatFileEntry> EnumerateEntries(int maxDepth)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDepth);
        return Scan(maxDepth);
    }

    private List<FatFileEntry> Scan(int maxDepth)
    {
        var (entries, directoryClusters) = DirectoryTreeScanner.Scan(_reader, _fat, _boot, _limits, maxDepth);
        _directoryClusters = directoryClusters;
        return entries;
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
