using System.Diagnostics;
using System.Text;
using LuksVirt.Core.KeySources.UsbStick;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Usb;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Usb;

/// <summary>
/// Keys read from FAT images made by mkfs.vfat and mtools, through the path a stick takes
/// (open without following links, read in user space): byte-identical keys, the depth limit,
/// case collisions, files that are no keys, and an image that is never written to.
/// </summary>
[Collection(FatImageGroup.Name)]
public sealed class UsbKeyPresentationTests(FatImageFixture images) : IDisposable
{
    private readonly TempDirectory _directory = new("usbkeys");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Keys_come_back_byte_identical_from_the_root_and_nested_folders_and_the_image_is_unchanged()
    {
        var alice = Encoding.ASCII.GetBytes("printable-key-of-alice-with-a-trailing-newline\n");
        var bob = Enumerable.Range(0, 256).Select(i => (byte)(255 - i)).ToArray();   // every byte value, NUL included
        var carol = Encoding.ASCII.GetBytes(new string('c', 4000));
        var stick = new KeyStickImage(_directory.PathOf("stick.img"))
            .Add("luks-alice.1.key", alice)
            .Add("keys/luks-bob.2.key", bob)
            .Add("a/b/c/LUKS-carol.key", carol)
            .Add("readme.txt", "not a key\n"u8)
            .Add("photos/holiday.jpg", new byte[3000]);
        var before = stick.Sha256();

        using var presentation = UsbKeyPresentation.Read(stick.Path);

        Assert.Equal(["alice/1", "bob/2", "carol/-"], presentation.Keys.Select(k => $"{k.Holder}/{k.SlotHint?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}").Order(StringComparer.Ordinal));
        Assert.True(KeyOf(presentation, "alice").Secret.Span.SequenceEqual(alice));
        Assert.True(KeyOf(presentation, "bob").Secret.Span.SequenceEqual(bob));
        Assert.True(KeyOf(presentation, "carol").Secret.Span.SequenceEqual(carol));
        Assert.Equal($"usb:{stick.Path}:a/b/c/LUKS-carol.key", KeyOf(presentation, "carol").Source);
        Assert.Equal(["photos/holiday.jpg", "readme.txt"], presentation.Report.Ignored);
        Assert.Empty(presentation.Report.Rejected);
        Assert.Equal(3, presentation.Report.Presented);

        presentation.WipeSource();

        Assert.False(presentation.Report.Deleted);
        Assert.Equal(before, stick.Sha256());
    }

    [Fact]
    public void Key_files_deeper_than_the_limit_are_not_read_and_a_deeper_tree_is_no_error()
    {
        var stick = new KeyStickImage(_directory.PathOf("deep.img"))
            .Add("luks-root.key", "root\n"u8)
            .Add("1/luks-one.key", "one\n"u8)
            .Add("1/2/3/4/luks-four.key", "four\n"u8)
            .Add("1/2/3/4/5/luks-five.key", "five\n"u8)
            .Add("1/2/3/4/5/6/7/8/9/10/luks-ten.key", "ten\n"u8);   // beyond the reader's own limit of 8

        using var byDefault = UsbKeyPresentation.Read(stick.Path);
        using var rootOnly = UsbKeyPresentation.Read(stick.Path, maxDepth: 0);
        using var deepest = UsbKeyPresentation.Read(stick.Path, maxDepth: UsbKeySource.DeepestAllowed);

        Assert.Equal(4, UsbKeySource.DefaultMaxDepth);
        Assert.Equal(["four", "one", "root"], Holders(byDefault));
        Assert.Equal(["root"], Holders(rootOnly));
        Assert.Equal(["five", "four", "one", "root"], Holders(deepest));
        Assert.Throws<ArgumentOutOfRangeException>(() => UsbKeyPresentation.Read(stick.Path, maxDepth: UsbKeySource.DeepestAllowed + 1));
    }

    [Fact]
    public void Different_keys_under_one_name_in_two_folders_are_both_refused_naming_the_real_conflict()
    {
        var stick = new KeyStickImage(_directory.PathOf("collide.img"))
            .Add("luks-alice.1.key", "alice\n"u8)
            .Add("luks-carol.key", "carol one\n"u8)
            .Add("backup/LUKS-CAROL.KEY", "carol two\n"u8);

        using var presentation = UsbKeyPresentation.Read(stick.Path);

        Assert.Equal(["alice"], Holders(presentation));
        var reasons = presentation.Report.Rejected.ToDictionary(r => r.Name, r => r.Reason);
        Assert.Equal(["backup/LUKS-CAROL.KEY", "luks-carol.key"], reasons.Keys.Order(StringComparer.Ordinal));
        Assert.StartsWith("conflict: backup/LUKS-CAROL.KEY has the same file name (letter case aside), so names the same holder and slot, but holds a different key", reasons["luks-carol.key"], StringComparison.Ordinal);
        Assert.StartsWith("conflict: luks-carol.key has the same file name", reasons["backup/LUKS-CAROL.KEY"], StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_key_in_two_folders_is_one_key_and_no_conflict()
    {
        var stick = new KeyStickImage(_directory.PathOf("copies.img"))
            .Add("luks-carol.key", "carol\n"u8)
            .Add("backup/LUKS-CAROL.KEY", "carol\n"u8)
            .Add("old/luks-carol.key", "carol\n"u8);

        using var presentation = UsbKeyPresentation.Read(stick.Path);

        var key = Assert.Single(presentation.Keys);
        Assert.Equal("LUKS-CAROL.KEY", Path.GetFileName(key.Source));   // the first in path order
        Assert.True(key.Secret.Span.SequenceEqual("carol\n"u8));
        Assert.Empty(presentation.Report.Rejected);
        Assert.Equal(
            ["luks-carol.key (the same key as backup/LUKS-CAROL.KEY, used once)", "old/luks-carol.key (the same key as backup/LUKS-CAROL.KEY, used once)"],
            presentation.Report.Ignored);
    }

    [Fact]
    public void Two_names_in_one_folder_that_differ_only_in_case_are_both_refused()
    {
        // FAT itself never makes such a pair; a hostile stick can. Rename the second file's long
        // name from "luks-carox.key" to "luks-CAROL.key" in place (the checksum covers only the 8.3 alias).
        var stick = new KeyStickImage(_directory.PathOf("same-folder.img"))
            .Add("luks-carol.key", "carol one\n"u8)
            .Add("luks-carox.key", "carol two\n"u8);
        var bytes = File.ReadAllBytes(stick.Path);
        var at = bytes.AsSpan().IndexOf(Encoding.Unicode.GetBytes("carox"));
        Assert.True(at > 0);
        Encoding.Unicode.GetBytes("CAROL").CopyTo(bytes, at);
        File.WriteAllBytes(stick.Path, bytes);

        using var presentation = UsbKeyPresentation.Read(stick.Path);

        Assert.Empty(presentation.Keys);
        Assert.Equal(["luks-CAROL.key", "luks-carol.key"], presentation.Report.Rejected.Select(r => r.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Files_meant_as_keys_but_unusable_are_rejected_with_the_reason_and_others_still_work()
    {
        // Room for a file one byte over the key limit (cryptsetup's 8 MiB).
        var stick = new KeyStickImage(_directory.PathOf("rejects.img"), sizeKiB: 12 * 1024)
            .Add("luks-alice.1.key", "alice\n"u8)
            .Add("luks-bob.key", new byte[2 * 1024 * 1024])
            .Add("luks-empty.key", [])
            .Add("luks-huge.key", new byte[SecretBuffer.MaxKeyLength + 1])
            .Add("short.key", "abc"u8)
            .Add("luks-bad.99.key", "slot out of range"u8)
            .Add("luks-a b.key", "space"u8);

        using var presentation = UsbKeyPresentation.Read(stick.Path);

        Assert.Equal(["alice", "bob"], Holders(presentation));
        var reasons = presentation.Report.Rejected.ToDictionary(r => r.Name, r => r.Reason);
        Assert.Equal("empty (0 bytes)", reasons["luks-empty.key"]);
        Assert.Equal("larger than 8388608 bytes (8388609 bytes)", reasons["luks-huge.key"]);
        Assert.Contains("does not start with \"luks-\"", reasons["short.key"], StringComparison.Ordinal);
        Assert.Contains("slot hint \"99\"", reasons["luks-bad.99.key"], StringComparison.Ordinal);
        Assert.Contains("' '", reasons["luks-a b.key"], StringComparison.Ordinal);
    }

    [Fact]
    public void A_stick_with_an_mbr_partition_and_fat16_works_too()
    {
        var key = Encoding.ASCII.GetBytes("partitioned\n");
        var stick = new KeyStickImage(_directory.PathOf("mbr.img"), sizeKiB: 3072, fatBits: 16, mbr: true).Add("keys/luks-dave.3.key", key);

        using var presentation = UsbKeyPresentation.Read(stick.Path);

        var dave = Assert.Single(presentation.Keys);
        Assert.Equal(("dave", 3), (dave.Holder, dave.SlotHint));
        Assert.True(dave.Secret.Span.SequenceEqual(key));
    }

    [Fact]
    public void Long_listings_of_other_files_are_cut_short()
    {
        var hostFiles = Enumerable.Range(0, UsbKeySource.MaxIgnoredListed + 10).Select(i =>
        {
            var path = _directory.PathOf($"photo-{i:D3}.jpg");
            File.WriteAllText(path, "x");
            return path;
        }).ToList();
        var stick = new KeyStickImage(_directory.PathOf("photos.img")).Add("luks-alice.key", "alice"u8).AddHostFiles("dcim", hostFiles);

        using var presentation = UsbKeyPresentation.Read(stick.Path);

        var ignored = presentation.Report.Ignored;
        Assert.Equal(UsbKeySource.MaxIgnoredListed + 1, ignored.Count);
        Assert.Equal("(10 more file(s) not listed)", ignored[^1]);
        Assert.Equal(UsbKeySource.MaxIgnoredListed + 10, presentation.IgnoredCount);
        Assert.Single(presentation.Keys);
    }

    [Fact]
    public void The_deep_fixture_image_reads_within_the_depth_limit()
    {
        var image = images[FatImageFixture.Deep];
        var volume = FatVolume.Open(new MemoryBlockSource(image.Bytes));

        var listed = volume.EnumerateEntries(maxDepth: 2).Select(e => e.Path);

        Assert.Equal(["level1", "level1/level2", "level1/level2/level3"], listed);
        Assert.Throws<FatFormatException>(() => volume.EnumerateEntries());
    }

    [Fact]
    public void Paths_that_are_no_stick_are_refused_without_blocking()
    {
        var fifo = _directory.PathOf("fifo");
        ToolRunner.Run("mkfifo", fifo).EnsureSuccess("mkfifo");
        var target = new KeyStickImage(_directory.PathOf("real.img")).Path;
        var link = _directory.PathOf("link.img");
        File.CreateSymbolicLink(link, target);
        var clock = Stopwatch.StartNew();

        Assert.Contains("neither a block device nor an image file", Assert.Throws<KeyDeviceException>(() => UsbKeyPresentation.Read(fifo)).Message, StringComparison.Ordinal);
        Assert.Contains("symbolic link", Assert.Throws<KeyDeviceException>(() => UsbKeyPresentation.Read(link)).Message, StringComparison.Ordinal);
        Assert.Contains("neither a block device nor an image file", Assert.Throws<KeyDeviceException>(() => UsbKeyPresentation.Read(_directory.Path)).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<KeyDeviceException>(() => UsbKeyPresentation.Read(_directory.PathOf("missing"))).Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void An_image_without_a_fat_file_system_is_a_format_error()
    {
        var path = _directory.PathOf("random.img");
        var bytes = new byte[64 * 1024];
        new Random(4).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);

        Assert.Throws<FatFormatException>(() => UsbKeyPresentation.Read(path));
    }

    [Fact]
    public void A_stick_failing_mid_read_yields_whole_keys_or_none()
    {
        var alice = "alice\n"u8.ToArray();
        var stick = new KeyStickImage(_directory.PathOf("pulled.img")).Add("luks-alice.key", alice).Add("luks-bob.key", "bob\n"u8);
        var bytes = File.ReadAllBytes(stick.Path);
        var counting = new FailingBlockSource(bytes, failAtRead: int.MaxValue, shortRead: false);
        UsbKeyPresentation.Read(counting, "stick").Dispose();
        var lastRead = counting.Reads;   // the content of luks-bob.key, read last

        // An I/O error (a USB stick pulled out): the whole read fails, no key of it is kept.
        Assert.Throws<IOException>(() => UsbKeyPresentation.Read(new FailingBlockSource(bytes, lastRead, shortRead: false), "stick"));

        // The device shrinking under the reader (a loop device detached): the file read at that
        // moment is refused; keys read before it are whole.
        using var presentation = UsbKeyPresentation.Read(new FailingBlockSource(bytes, lastRead, shortRead: true), "stick");
        var key = Assert.Single(presentation.Keys);
        Assert.True(key.Secret.Span.SequenceEqual(alice));
        var rejected = Assert.Single(presentation.Report.Rejected);
        Assert.Equal("luks-bob.key", rejected.Name);
        Assert.Contains("device ended", rejected.Reason, StringComparison.Ordinal);
    }

    private static PresentedKey KeyOf(UsbKeyPresentation presentation, string holder) => presentation.Keys.Single(k => k.Holder == holder);

    private static string[] Holders(UsbKeyPresentation presentation) => [.. presentation.Keys.Select(k => k.Holder).Order(StringComparer.Ordinal)];
}

/// <summary>An image whose reads fail from the N-th on: with an I/O error, or by returning nothing.</summary>
internal sealed class FailingBlockSource(byte[] image, int failAtRead, bool shortRead) : IBlockSource
{
    public int Reads { get; private set; }

    public long Length => image.Length;

    public int Read(long offset, Span<byte> destination)
    {
        if (++Reads >= failAtRead)
        {
            return shortRead ? 0 : throw new IOException("Input/output error");
        }

        return new MemoryBlockSource(image).Read(offset, destination);
    }
}
