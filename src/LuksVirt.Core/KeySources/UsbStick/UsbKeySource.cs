using LuksVirt.Core.Usb;

namespace LuksVirt.Core.KeySources.UsbStick;

/// <summary>
/// Keys on a USB stick or an image of one: one batch, every key file up to
/// <see cref="MaxDepth"/> directory levels below the root, read without mounting
/// (<see cref="StickKeyReader"/>). Nothing is ever written to the stick.
/// </summary>
public sealed class UsbKeySource : IKeySource
{
    /// <summary>Prefix of <see cref="Keys.PresentedKey.Source"/> for keys from a stick.</summary>
    public const string SourcePrefix = "usb:";

    /// <summary>Directory levels below the root searched by default (0: the root only).</summary>
    public const int DefaultMaxDepth = 4;

    /// <summary>Ignored (non-key) files listed in a report; the rest are only counted.</summary>
    public const int MaxIgnoredListed = 50;

    public UsbKeySource(string devicePath, int maxDepth = DefaultMaxDepth)
    {
        ArgumentException.ThrowIfNullOrEmpty(devicePath);
        ArgumentOutOfRangeException.ThrowIfNegative(maxDepth);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDepth, DeepestAllowed);
        DevicePath = devicePath;
        MaxDepth = maxDepth;
    }

    /// <summary>The deepest search allowed: the FAT reader's own directory depth limit.</summary>
    public static int DeepestAllowed => FatReaderLimits.Default.MaxDirectoryDepth;

    /// <summary>The stick's block device or an image file of one.</summary>
    public string DevicePath { get; }

    public int MaxDepth { get; }

    public string Description => $"USB stick {DevicePath}";

    /// <summary>Throws as <see cref="StickKeyReader.Read(string, int)"/> does.</summary>
    public IAsyncEnumerable<IKeyPresentation> PresentAsync(KeySourceContext context, CancellationToken cancellationToken) =>
        SingleBatch.Of(() => UsbKeyPresentation.Read(DevicePath, MaxDepth));
}
