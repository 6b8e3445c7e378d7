using LuksVirt.Core.Keys;
using LuksVirt.Core.Usb;

namespace LuksVirt.Core.KeySources.UsbStick;

/// <summary>
/// What <see cref="StickKeyReader.Read(string, int)"/> found on a stick. <see cref="Keys"/> belong to
/// the caller (dispose them, or this result). Paths in <see cref="Rejected"/> and
/// <see cref="Ignored"/> are '/'-separated from the stick's root and already sanitised for logs.
/// </summary>
internal sealed class UsbKeyReadResult(string device, KeySet keys, IReadOnlyList<RejectedKeyFile> rejected, IReadOnlyList<string> ignored, int ignoredNotListed) : IDisposable
{
    /// <summary>The block device or image file read, as given.</summary>
    public string Device { get; } = device;

    public KeySet Keys { get; } = keys;

    /// <summary>Files meant as key files that were refused, with the reason.</summary>
    public IReadOnlyList<RejectedKeyFile> Rejected { get; } = rejected;

    /// <summary>Files that do not look like key files at all, up to
    /// <see cref="UsbKeySource.MaxIgnoredListed"/> of them (a stick may hold thousands).</summary>
    public IReadOnlyList<string> Ignored { get; } = ignored;

    /// <summary>Ignored files beyond those listed in <see cref="Ignored"/>.</summary>
    public int IgnoredNotListed { get; } = ignoredNotListed;

    /// <summary>What the reader passed over so that the rest could be read (damaged directory
    /// entries, partitions without FAT, a truncated tail), with the reason; at most
    /// <see cref="FatVolume.MaxSkippedListed"/>, paths sanitised.</summary>
    public IReadOnlyList<SkippedOnStick> Skipped { get; init; } = [];

    /// <summary>Skipped items beyond those listed in <see cref="Skipped"/>.</summary>
    public int SkippedNotListed { get; init; }

    public void Dispose() => Keys.Dispose();
}
