namespace LuksVirt.Core.Usb;

/// <summary>A file or directory found on a FAT volume. Only <see cref="FatVolume"/> creates
/// these; its <see cref="FatVolume.ReadFile"/> still re-checks everything the entry claims.</summary>
internal sealed class FatFileEntry
{
    internal FatFileEntry(FatVolume volume, string directoryPath, string name, string shortName, long size, FatAttributes attributes, uint firstCluster)
    {
        Volume = volume;
        DirectoryPath = directoryPath;
        Name = name;
        ShortName = shortName;
        Size = size;
        Attributes = attributes;
        FirstCluster = firstCluster;
    }

    /// <summary>The long name when a valid long-name run precedes the entry, else the 8.3 name
    /// (lower-cased where the entry's case flags say so).</summary>
    public string Name { get; }

    /// <summary>The 8.3 name as stored, e.g. "LUKS-A~1.KEY" (case flags not applied).</summary>
    public string ShortName { get; }

    /// <summary>The containing directory, '/'-separated, "" for the root (on a stick with several
    /// FAT partitions the root is the partition's name, e.g. "partition 2").</summary>
    public string DirectoryPath { get; }

    /// <summary>'/'-separated path from the root, without a leading '/': "keys/luks-alice.1.key".</summary>
    // Computed on demand so that entries of one directory share its path string: memory stays
    // proportional to the slots scanned, not to depth times entries.
    public string Path => DirectoryPath.Length == 0 ? Name : string.Concat(DirectoryPath, "/", Name);

    /// <summary>Size in bytes as the directory entry claims it (0 for directories).</summary>
    public long Size { get; }

    public FatAttributes Attributes { get; }

    public bool IsDirectory => (Attributes & FatAttributes.Directory) != 0;

    /// <summary>The volume whose listing holds this entry: its clusters mean nothing elsewhere.</summary>
    internal FatVolume Volume { get; }

    internal uint FirstCluster { get; }

    public override string ToString() => Path;
}
