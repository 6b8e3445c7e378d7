using System.Text;
using LuksVirt.Core.KeySources.UsbStick;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Usb;

/// <summary>
/// Issue 10, item 14: sticks made by mkfs.vfat and mtools, then damaged the way real sticks are
/// (an entry with an invalid 8.3 name, a directory cycle, a truncated image) away from the key
/// files. The keys are still read, whole; what was skipped is reported, sanitised and bounded.
/// </summary>
public sealed class DamagedStickKeyTests : IDisposable
{
    private static readonly byte[] Alice = Encoding.ASCII.GetBytes("alice-key-on-a-damaged-stick\n");
    private static readonly byte[] Bob = [.. Enumerable.Range(0, 200).Select(i => (byte)(i * 7))];

    private readonly TempDirectory _directory = new("usbdamage");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Entries_with_invalid_short_names_elsewhere_are_skipped_and_reported_and_the_keys_read()
    {
        var stick = Stick("names.img")
            .Add("photos/readme.txt", "not a key\n"u8)
            .Add("photos/holiday.jpg", new byte[3000]);
        var bytes = File.ReadAllBytes(stick.Path);
        bytes[FindSlot(bytes, "README  TXT") + 2] = 0x07;              // a control character
        bytes[FindSlot(bytes, "HOLIDAY JPG") + 0] = (byte)'*';         // a reserved one
        File.WriteAllBytes(stick.Path, bytes);

        using var presentation = UsbKeyPresentation.Read(stick.Path);

        AssertAliceAndBob(presentation);
        var skipped = presentation.Report.Skipped;
        Assert.Equal(2, skipped.Count);
        Assert.All(skipped, s =>
        {
            Assert.StartsWith("photos/(entry at slot ", s.Where, StringComparison.Ordinal);
            Assert.Equal("the 8.3 name contains a control or reserved character; entry skipped", s.Reason);
        });
        Assert.All(skipped.SelectMany(s => s.Where + s.Reason), c => Assert.InRange(c, ' ', '~'));
    }

    [Fact]
    public void A_directory_cycle_elsewhere_is_skipped_and_reported_and_the_keys_read()
    {
        var stick = Stick("cycle.img")
            .Add("photos/2024/img1.jpg", new byte[100])
            .Add("photos/2024/sub/img2.jpg", new byte[100]);
        var bytes = File.ReadAllBytes(stick.Path);
        var photos = FirstCluster(bytes, FindSlot(bytes, "PHOTOS     "));
        var sub = FindSlot(bytes, "SUB        ");
        bytes[sub + 26] = (byte)photos;                                 // photos/2024/sub -> photos
        bytes[sub + 27] = (byte)(photos >> 8);
        File.WriteAllBytes(stick.Path, bytes);

        using var presentation = UsbKeyPresentation.Read(stick.Path);

        AssertAliceAndBob(presentation);
        var skipped = Assert.Single(presentation.Report.Skipped);
        Assert.Equal("photos/2024/sub", skipped.Where);
        Assert.Contains($"reaches cluster {photos} a second time", skipped.Reason, StringComparison.Ordinal);
        Assert.Contains("photos/2024/img1.jpg", presentation.Report.Ignored);
    }

    [Fact]
    public void A_truncated_stick_yields_the_keys_in_its_readable_part()
    {
        var stick = Stick("truncated.img", sizeKiB: 1024)
            .Add("late/readme.txt", "first\n"u8)
            .Add("video/big.bin", new byte[600 * 1024])
            .Add("late/luks-carol.key", "carol\n"u8);
        using (var file = new FileStream(stick.Path, FileMode.Open))
        {
            file.SetLength(512 * 1024);
        }

        using var presentation = UsbKeyPresentation.Read(stick.Path);

        AssertAliceAndBob(presentation);
        var carol = Assert.Single(presentation.Report.Rejected);
        Assert.Equal("late/luks-carol.key", carol.Name);
        Assert.Contains("lies beyond the end of the device", carol.Reason, StringComparison.Ordinal);
        var skipped = Assert.Single(presentation.Report.Skipped);
        Assert.Equal("/", skipped.Where);
        Assert.Contains("the file system claims 1048576 bytes but the device holds only 524288", skipped.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Many_damaged_entries_are_reported_up_to_a_bound()
    {
        var hostFiles = Enumerable.Range(0, UsbKeySource.MaxIgnoredListed + 20).Select(i =>
        {
            var path = _directory.PathOf($"P{i:D4}.JPG");
            File.WriteAllText(path, "x");
            return path;
        }).ToList();
        var stick = Stick("many.img").AddHostFiles("dcim", hostFiles);
        var bytes = File.ReadAllBytes(stick.Path);
        for (var i = 0; i < hostFiles.Count; i++)
        {
            bytes[FindSlot(bytes, $"P{i:D4}   JPG") + 1] = 0x1B;   // ESC: a terminal escape, never echoed
        }

        File.WriteAllBytes(stick.Path, bytes);

        using var presentation = UsbKeyPresentation.Read(stick.Path);

        AssertAliceAndBob(presentation);
        var skipped = presentation.Report.Skipped;
        Assert.Equal(51, skipped.Count);
        Assert.Equal(("...", "20 more skipped item(s) not listed"), (skipped[^1].Where, skipped[^1].Reason));
    }

    private KeyStickImage Stick(string name, int sizeKiB = 1024) =>
        new KeyStickImage(_directory.PathOf(name), sizeKiB).Add("luks-alice.1.key", Alice).Add("keys/luks-bob.key", Bob);

    private static void AssertAliceAndBob(UsbKeyPresentation presentation)
    {
        Assert.Equal(["alice", "bob"], presentation.Keys.Select(k => k.Holder).Order(StringComparer.Ordinal));
        Assert.True(presentation.Keys.Single(k => k.Holder == "alice").Secret.Span.SequenceEqual(Alice));
        Assert.True(presentation.Keys.Single(k => k.Holder == "bob").Secret.Span.SequenceEqual(Bob));
    }

    /// <summary>Offset of the 8.3 entry named by its 11 bytes in a superfloppy image.</summary>
    internal static int FindSlot(byte[] image, string elevenBytes)
    {
        var needle = Encoding.ASCII.GetBytes(elevenBytes);
        for (var at = 0; at + 32 <= image.Length; at += 32)
        {
            if (image.AsSpan(at, 11).SequenceEqual(needle) && image[at + 11] != 0x0F)
            {
                return at;
            }
        }

        throw new InvalidOperationException($"no directory entry {elevenBytes}");
    }

    private static int FirstCluster(byte[] image, int slot) => image[slot + 26] | (image[slot + 27] << 8);
}
