using System.Globalization;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Usb;

namespace LuksVirt.Core.KeySources.UsbStick;

/// <summary>Keys on a USB stick or an image of one, read without mounting it
/// (<see cref="UsbKeySource"/>). Nothing is ever written to the stick: the keys on it are its
/// owner's to keep, so <see cref="WipeSource"/> does nothing.</summary>
public sealed class UsbKeyPresentation : IKeyPresentation
{
    private readonly UsbKeyReadResult _read;

    private UsbKeyPresentation(UsbKeyReadResult read) => _read = read;

    /// <summary>Reads the stick at <paramref name="devicePath"/>; throws as
    /// <see cref="StickKeyReader.Read(string, int)"/> does.</summary>
    public static UsbKeyPresentation Read(string devicePath, int maxDepth = UsbKeySource.DefaultMaxDepth) =>
        new(StickKeyReader.Read(devicePath, maxDepth));

    /// <summary>Reads keys from an already open stick or image.</summary>
    public static UsbKeyPresentation Read(IBlockSource device, string deviceName, int maxDepth = UsbKeySource.DefaultMaxDepth) =>
        new(StickKeyReader.Read(device, deviceName, maxDepth));

    public string Device => _read.Device;

    public KeySet Keys => _read.Keys;

    /// <summary>Files on the stick that are no key files, listed in the report or not.</summary>
    public int IgnoredCount => _read.Ignored.Count + _read.IgnoredNotListed;

    public KeysReport Report => new(
        _read.Keys.Count,
        _read.Rejected.Select(r => new RejectedKeyReport(r.Name, r.Reason)).ToList(),
        _read.IgnoredNotListed == 0
            ? _read.Ignored
            : [.. _read.Ignored, string.Create(CultureInfo.InvariantCulture, $"({_read.IgnoredNotListed} more file(s) not listed)")],
        Deleted: false)
    {
        Skipped = _read.SkippedNotListed == 0
            ? [.. _read.Skipped.Select(s => new SkippedReport(s.Where, s.Reason))]
            : [.. _read.Skipped.Select(s => new SkippedReport(s.Where, s.Reason)), new SkippedReport("...", string.Create(CultureInfo.InvariantCulture, $"{_read.SkippedNotListed} more skipped item(s) not listed"))],
    };

    /// <summary>Always false: a refused file on a stick is reported, and stays its owner's.</summary>
    public bool LeftRefusedKeyFiles => false;

    /// <summary>Does nothing: a stick is never written to.</summary>
    public void WipeSource()
    {
    }

    public void Dispose() => _read.Dispose();
}
