using System.Text;
using LuksVirt.Core.KeySources.UsbStick;
using LuksVirt.Core.Usb;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Usb;

/// <summary>
/// Issue 10, item 16: sticks partitioned by sfdisk (MBR with an extended partition and logical
/// ones, GPT as Windows and GNOME Disks write it, GPT with 4096-byte sectors on a loop device
/// that reports them) and formatted by mkfs.vfat --offset: the keys in every FAT partition are
/// read, whatever the partition's type; partitions without FAT are named in the report.
/// </summary>
public sealed class PartitionedStickKeyTests : IDisposable
{
    private const string BasicData = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";
    private const string EfiSystem = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
    private const string LinuxFilesystem = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

    private static readonly byte[] Alice = Encoding.ASCII.GetBytes("alice-in-a-partition\n");
    private static readonly byte[] Bob = [.. Enumerable.Range(0, 256).Select(i => (byte)(255 - i))];

    private readonly TempDirectory _directory = new("usbparts");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Keys_in_a_logical_partition_are_read()
    {
        var path = _directory.PathOf("logical.img");
        KeyStickImage.Partition(path, 16, "label: dos\nstart=2048, size=2048, type=83\nstart=4096, type=5\nstart=6144, size=4096, type=c\n");
        KeyStickImage.FormatPartition(path, 6144, 2048).Add("luks-alice.1.key", Alice).Add("keys/luks-bob.key", Bob);

        using var presentation = UsbKeyPresentation.Read(path);

        AssertAliceAndBob(presentation);
        Assert.Equal($"usb:{path}:keys/luks-bob.key", presentation.Keys.Single(k => k.Holder == "bob").Source);
        var skipped = Assert.Single(presentation.Report.Skipped);
        Assert.Equal("partition 1", skipped.Where);
        Assert.StartsWith("MBR type 0x83, no FAT file system (boot sector: ", skipped.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(BasicData, 16)]
    [InlineData(EfiSystem, 12)]
    [InlineData(LinuxFilesystem, 32)]
    public void Keys_on_a_gpt_stick_are_read_whatever_the_partition_type(string type, int fatBits)
    {
        var path = _directory.PathOf("gpt.img");
        var sizeKiB = fatBits == 32 ? 34 * 1024 : 3072;
        KeyStickImage.Partition(path, (sizeKiB / 1024) + 2, $"label: gpt\nstart=2048, size={sizeKiB * 2}, type={type}\n");
        KeyStickImage.FormatPartition(path, 2048, sizeKiB, fatBits).Add("luks-alice.1.key", Alice).Add("keys/luks-bob.key", Bob);

        using var presentation = UsbKeyPresentation.Read(path);

        AssertAliceAndBob(presentation);
        Assert.Empty(presentation.Report.Skipped);
    }

    [Fact]
    public void Keys_in_every_fat_partition_are_read_and_named_by_their_partition()
    {
        var path = _directory.PathOf("several.img");
        KeyStickImage.Partition(path, 8, $"label: gpt\nstart=2048, size=4096, type={EfiSystem}\nstart=6144, size=2048, type={LinuxFilesystem}\nstart=8192, size=4096, type={BasicData}\n");
        KeyStickImage.FormatPartition(path, 2048, 2048).Add("luks-alice.1.key", Alice).Add("readme.txt", "esp\n"u8);
        KeyStickImage.FormatPartition(path, 8192, 2048).Add("keys/luks-bob.key", Bob);

        using var presentation = UsbKeyPresentation.Read(path);

        AssertAliceAndBob(presentation);
        Assert.Equal($"usb:{path}:partition 1/luks-alice.1.key", presentation.Keys.Single(k => k.Holder == "alice").Source);
        Assert.Equal($"usb:{path}:partition 3/keys/luks-bob.key", presentation.Keys.Single(k => k.Holder == "bob").Source);
        Assert.Equal(["partition 1/readme.txt"], presentation.Report.Ignored);
        var skipped = Assert.Single(presentation.Report.Skipped);
        Assert.Equal("partition 2", skipped.Where);
        Assert.StartsWith("GPT type Linux filesystem, no FAT file system", skipped.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void One_key_name_in_two_partitions_is_one_conflict_as_in_two_folders()
    {
        var path = _directory.PathOf("twice.img");
        KeyStickImage.Partition(path, 8, "label: dos\nstart=2048, size=4096, type=c\nstart=6144, size=4096, type=c\n");
        KeyStickImage.FormatPartition(path, 2048, 2048).Add("luks-alice.1.key", Alice).Add("luks-carol.key", "carol one\n"u8);
        KeyStickImage.FormatPartition(path, 6144, 2048).Add("luks-carol.key", "carol two\n"u8);

        using var presentation = UsbKeyPresentation.Read(path);

        Assert.Equal(["alice"], presentation.Keys.Select(k => k.Holder));
        Assert.Equal(["partition 1/luks-carol.key", "partition 2/luks-carol.key"], presentation.Report.Rejected.Select(r => r.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_gpt_stick_with_4096_byte_sectors_is_read_from_the_device_and_from_its_image()
    {
        // sfdisk writes the table through a loop device that reports 4096-byte sectors, as a
        // 4Kn stick would; mkfs.vfat -S 4096 --offset counts in those sectors too.
        var path = _directory.PathOf("4k.img");
        using (var file = File.Create(path))
        {
            file.SetLength(16L * 1024 * 1024);
        }

        using (var loop = FourKLoop.Attach(path))
        {
            ToolRunner.Run("sfdisk", ["-q", loop.Node], Encoding.ASCII.GetBytes($"label: gpt\nstart=256, size=1024, type={BasicData}\n")).EnsureSuccess("sfdisk");
        }

        KeyStickImage.FormatPartition(path, 256, 4096, fatBits: 12, sectorSize: 4096).Add("luks-alice.1.key", Alice).Add("keys/luks-bob.key", Bob);

        var layout = FatStick.Open(new MemoryBlockSource(File.ReadAllBytes(path))).Layout;
        Assert.Equal((PartitionScheme.Gpt, 4096), (layout.Scheme, layout.SectorSize));
        Assert.Equal(new StickPartition(1, 1024L * 1024, 4L * 1024 * 1024, "GPT type Microsoft basic data"), Assert.Single(layout.Partitions));

        using (var fromImage = UsbKeyPresentation.Read(path))
        {
            AssertAliceAndBob(fromImage);
        }

        using (var loop = FourKLoop.Attach(path))
        {
            using (var device = FileBlockSource.Open(loop.Node))
            {
                Assert.Equal(4096, device.LogicalSectorSize);
            }

            using var fromDevice = UsbKeyPresentation.Read(loop.Node);
            AssertAliceAndBob(fromDevice);
        }
    }

    private static void AssertAliceAndBob(UsbKeyPresentation presentation)
    {
        Assert.Equal(["alice", "bob"], presentation.Keys.Select(k => k.Holder).Order(StringComparer.Ordinal));
        Assert.True(presentation.Keys.Single(k => k.Holder == "alice").Secret.Span.SequenceEqual(Alice));
        Assert.True(presentation.Keys.Single(k => k.Holder == "bob").Secret.Span.SequenceEqual(Bob));
        Assert.Empty(presentation.Report.Rejected);
    }

    /// <summary>An image attached with 4096-byte logical sectors (losetup -b 4096).</summary>
    private sealed class FourKLoop : IDisposable
    {
        private FourKLoop(string node) => Node = node;

        public string Node { get; }

        public static FourKLoop Attach(string image) =>
            new(ToolRunner.Run("losetup", "-f", "--show", "-b", "4096", image).EnsureSuccess("losetup").StandardOutput.Trim());

        public void Dispose() => ToolRunner.Run("losetup", "-d", Node).EnsureSuccess("losetup -d " + Node);
    }
}
