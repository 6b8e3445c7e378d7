namespace LuksVirt.Core.Usb;

/// <summary>
/// Bounds on the work and memory one <see cref="FatVolume"/> may spend on a stick, whatever its
/// structures claim. Exceeding one is a <see cref="FatFormatException"/>, never a hang.
/// </summary>
internal sealed record FatReaderLimits
{
    public static FatReaderLimits Default { get; } = new();

    /// <summary>Subdirectory levels below the root that are scanned.</summary>
    public int MaxDirectoryDepth { get; init; } = 8;

    /// <summary>32-byte directory slots examined in all directories together (long-name parts,
    /// deleted entries and the like included).</summary>
    public int MaxEntriesScanned { get; init; } = 65_536;

    /// <summary>Clusters in one directory's chain.</summary>
    public int MaxDirectoryClusters { get; init; } = 4_096;

    /// <summary>Bytes read from the device by one volume in total: metadata and file content.</summary>
    public long MaxBytesRead { get; init; } = 64L * 1024 * 1024;

    /// <summary>Upper bound on the size of a file <see cref="FatVolume.ReadFile"/> returns,
    /// whatever the caller asks for: the key limit, so a stick holds every key file cryptsetup accepts.</summary>
    public int MaxFileSize { get; init; } = LuksVirt.Interop.Secrets.SecretBuffer.MaxKeyLength;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxDirectoryDepth);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxEntriesScanned, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDirectoryClusters, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBytesRead, 512);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFileSize, 1);
    }
}
