using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Usb;

/// <summary>A FAT file system on a stick, and the partition it lies in.</summary>
internal sealed record StickVolume(StickPartition Partition, FatVolume Volume);

/// <summary>
/// Every FAT file system on one stick, in partition table order (<see cref="VolumeLocator"/>):
/// a partition holds one when its boot sector passes <see cref="FatVolume"/>'s checks, whatever
/// its type says. At most <see cref="MaxFatVolumes"/> are opened, and all of them share one read
/// budget (<see cref="FatReaderLimits.MaxBytesRead"/>): several partitions cost no more work
/// than one. What is passed over (partitions without FAT, a broken chain of logical partitions,
/// damaged directory entries) is listed in <see cref="Skipped"/>.
/// </summary>
internal sealed class FatStick
{
    /// <summary>FAT file systems searched on one stick; further ones are skipped and reported.</summary>
    public const int MaxFatVolumes = 16;

    private readonly SkippedList _partitionsSkipped;
    private SkippedList _skipped;

    private FatStick(PartitionLayout layout, IReadOnlyList<StickVolume> volumes, SkippedList partitionsSkipped)
    {
        Layout = layout;
        Volumes = volumes;
        _partitionsSkipped = partitionsSkipped;
        _skipped = partitionsSkipped;
    }

    public PartitionLayout Layout { get; }

    /// <summary>At least one; in table order.</summary>
    public IReadOnlyList<StickVolume> Volumes { get; }

    /// <summary>What was skipped so far: partitions when opened, directory entries too after
    /// <see cref="EnumerateFiles"/>. At most <see cref="FatVolume.MaxSkippedListed"/>; the rest
    /// is counted in <see cref="SkippedNotListed"/>.</summary>
    public IReadOnlyList<SkippedOnStick> Skipped => _skipped.Items;

    public int SkippedNotListed => _skipped.NotListed;

    /// <summary>
    /// Opens every FAT file system on <paramref name="device"/>. Throws
    /// <see cref="FatFormatException"/> when the stick has none (the message says what each
    /// partition holds instead), when its partition table is unreadable, or when a stick without
    /// a partition table has a bad boot sector.
    /// </summary>
    public static FatStick Open(IBlockSource device, FatReaderLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        limits ??= FatReaderLimits.Default;
        limits.Validate();
        var budget = new ReadBudget(limits.MaxBytesRead);
        var layout = VolumeLocator.Locate(device, device.LogicalSectorSize, budget);
        var skipped = new SkippedList();
        skipped.AddRange(layout.Skipped, layout.SkippedNotListed);

        if (layout.Scheme == PartitionScheme.None)
        {
            var whole = layout.Partitions[0];
            return new FatStick(layout, [new StickVolume(whole, FatVolume.Open(device, limits, budget))], skipped);
        }

        var volumes = new List<StickVolume>();
        foreach (var partition in layout.Partitions)
        {
            if (volumes.Count == MaxFatVolumes)
            {
                skipped.Add(partition.Name, $"{partition.Description}: not searched, the stick holds more than {MaxFatVolumes} FAT file systems");
                continue;
            }

            var slice = new BlockSourceSlice(device, partition.Offset, partition.Length);
            try
            {
                volumes.Add(new StickVolume(partition, FatVolume.Open(slice, limits, budget)));
            }
            catch (FatFormatException e) when (!e.IsLimitExceeded)
            {
                skipped.Add(partition.Name, $"{partition.Description}, {WhatItHolds(slice, budget, e)}; not searched");
            }
        }

        if (volumes.Count == 0)
        {
            var found = skipped.Items.Select(s => $"{s.Where}: {s.Reason}");
            var more = skipped.NotListed > 0 ? $"; {skipped.NotListed} more" : string.Empty;
            var table = layout.Scheme == PartitionScheme.Gpt ? "GPT" : "MBR";
            throw new FatFormatException(layout.Partitions.Count == 0 && skipped.Items.Count == 0
                ? $"the {table} partition table holds no FAT partition (it lists no partition)"
                : $"the {table} partition table holds no FAT partition: {string.Join("; ", found)}{more}");
        }

        return new FatStick(layout, volumes, skipped);
    }

    /// <summary>
    /// Every file at most <paramref name="maxDepth"/> directory levels below each volume's root.
    /// With one FAT file system, paths are as on it ("keys/luks-alice.key"); with several, each
    /// starts with its partition ("partition 2/keys/luks-alice.key").
    /// </summary>
    public IReadOnlyList<FatFileEntry> EnumerateFiles(int maxDepth)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDepth);
        var skipped = new SkippedList();
        skipped.AddRange(_partitionsSkipped.Items, _partitionsSkipped.NotListed);
        var files = new List<FatFileEntry>();
        foreach (var (partition, volume) in Volumes)
        {
            var rootPath = Volumes.Count > 1 ? partition.Name : string.Empty;
            files.AddRange(volume.Scan(maxDepth, rootPath).Where(e => !e.IsDirectory));
            skipped.AddRange(volume.Skipped, volume.SkippedNotListed);
        }

        _skipped = skipped;
        return files;
    }

    /// <summary>Reads a file listed by <see cref="EnumerateFiles"/> from its own volume (see
    /// <see cref="FatVolume.ReadFile"/>).</summary>
    public SecretBuffer ReadFile(FatFileEntry entry, int maxBytes = SecretBuffer.MaxKeyLength)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (!Volumes.Any(v => v.Volume == entry.Volume))
        {
            throw new ArgumentException($"\"{entry.Path}\" was not listed on this stick", nameof(entry));
        }

        return entry.Volume.ReadFile(entry, maxBytes);
    }

    /// <summary>What a partition without an acceptable FAT boot sector holds, as far as its first
    /// sector tells: exFAT and NTFS are named, anything else is the boot sector check's reason.</summary>
    private static string WhatItHolds(IBlockSource partition, ReadBudget budget, FatFormatException fault)
    {
        Span<byte> sector = stackalloc byte[VolumeLocator.MbrSectorSize];
        try
        {
            new VolumeReader(partition, budget).ReadExactly(0, sector, "the partition's first sector");
        }
        catch (FatFormatException e) when (!e.IsLimitExceeded)
        {
            return $"no FAT file system ({fault.Message})";
        }

        return ForeignFileSystem.Identify(sector) is { } foreign
            ? ForeignFileSystem.NotSupported(foreign)
            : $"no FAT file system ({fault.Message})";
    }
}
