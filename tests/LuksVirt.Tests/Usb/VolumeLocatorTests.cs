using System.Text;
using LuksVirt.Core.Usb;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Usb;

/// <summary>Partition tables written by sfdisk (MBR with logical partitions, GPT): where the
/// partitions are, in which order, what is skipped, and clear refusals.</summary>
[Collection(FatImageGroup.Name)]
public sealed class VolumeLocatorTests(FatImageFixture images) : IDisposable
{
    private const long MiB = 1024 * 1024;
    private const string BasicData = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";
    private const string EfiSystem = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
    private const string LinuxFilesystem = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

    private readonly TempDirectory _directory = new("fat-mbr");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void A_superfloppy_is_the_volume_itself()
    {
        var image = images[FatImageFixture.Fat32];

        var layout = VolumeLocator.Locate(new MemoryBlockSource(image.Bytes));

        Assert.Equal(PartitionScheme.None, layout.Scheme);
        Assert.Equal([new StickPartition(null, 0, image.Bytes.Length, "no partition table")], layout.Partitions);
        Assert.Empty(layout.Skipped);
    }

    [Fact]
    public void A_fat_partition_at_one_mebibyte_is_found()
    {
        var image = images[FatImageFixture.MbrFat16];

        var layout = VolumeLocator.Locate(new MemoryBlockSource(image.Bytes));

        Assert.Equal(PartitionScheme.Mbr, layout.Scheme);
        Assert.Equal([new StickPartition(1, MiB, 3 * MiB, "MBR type 0x0E")], layout.Partitions);
    }

    [Fact]
    public void Every_partition_is_listed_in_table_order_whatever_its_type()
    {
        // Changed with issue 10: the type no longer picks the partition; each one's boot sector
        // decides (FatStick). This table once located partition 2, the first with a FAT type.
        var bytes = Partitioned(8 * MiB, "label: dos\nstart=2048, size=2048, type=83\nstart=4096, size=4096, type=c\nstart=8192, size=4096, type=6\n");

        var layout = VolumeLocator.Locate(new MemoryBlockSource(bytes));

        Assert.Equal([(1, MiB, MiB), (2, 2 * MiB, 2 * MiB), (3, 4 * MiB, 2 * MiB)], layout.Partitions.Select(p => (p.Number!.Value, p.Offset, p.Length)));
        Assert.Equal(["MBR type 0x83", "MBR type 0x0C", "MBR type 0x06"], layout.Partitions.Select(p => p.Description));
    }

    [Fact]
    public void Logical_partitions_are_found_by_walking_the_extended_chain()
    {
        var bytes = Partitioned(16 * MiB, "label: dos\nstart=2048, size=2048, type=83\nstart=4096, type=5\nstart=6144, size=4096, type=c\nstart=12288, size=4096, type=e\n");

        var layout = VolumeLocator.Locate(new MemoryBlockSource(bytes));

        Assert.Equal([(1, MiB), (5, 3 * MiB), (6, 6 * MiB)], layout.Partitions.Select(p => (p.Number!.Value, p.Offset)));
        Assert.Equal("MBR type 0x0C, logical", layout.Partitions[1].Description);
        Assert.Empty(layout.Skipped);
    }

    [Fact]
    public void A_loop_in_the_chain_of_logical_partitions_ends_the_walk_and_is_reported()
    {
        var bytes = Partitioned(16 * MiB, "label: dos\nstart=4096, type=5\nstart=6144, size=2048, type=c\nstart=10240, size=2048, type=c\nstart=14336, size=2048, type=c\n");
        var extendedStart = 4096;
        var secondEbr = FindEbrs(bytes, extendedStart)[1];
        // Its link to the third record now points back at the first (relative to the extended partition).
        WriteUInt32(bytes, (secondEbr * 512) + 446 + 16 + 8, 0);

        var layout = VolumeLocator.Locate(new MemoryBlockSource(bytes));

        Assert.Equal([5, 6], layout.Partitions.Select(p => p.Number!.Value));
        var skipped = Assert.Single(layout.Skipped);
        Assert.Equal("partition 1", skipped.Where);
        Assert.Contains($"loops back to sector {extendedStart}", skipped.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void More_than_64_logical_partitions_are_not_searched()
    {
        // sfdisk stops at 60 partitions: its first extended boot record is copied into a chain
        // of 70, each one a logical partition of 8 sectors and a link to the next.
        var bytes = Partitioned(4 * MiB, "label: dos\nstart=2048, size=6144, type=5\nstart=4096, size=16, type=c\n");
        const int ExtendedStart = 2048;
        const int Spacing = 32;
        var template = bytes.AsSpan(ExtendedStart * 512, 512).ToArray();
        for (var i = 0; i < 70; i++)
        {
            var ebr = template.AsSpan().ToArray();
            WriteUInt32(ebr, 446 + 8, 8);                                    // logical: 8 sectors after its EBR
            WriteUInt32(ebr, 446 + 12, 8);
            ebr[446 + 16 + 4] = 0x05;                                        // link to the next EBR
            WriteUInt32(ebr, 446 + 16 + 8, (uint)((i + 1) * Spacing));
            WriteUInt32(ebr, 446 + 16 + 12, Spacing);
            ebr.CopyTo(bytes, (ExtendedStart + (i * Spacing)) * 512);
        }

        var layout = VolumeLocator.Locate(new MemoryBlockSource(bytes));

        Assert.Equal(Enumerable.Range(5, VolumeLocator.MaxLogicalPartitions), layout.Partitions.Select(p => p.Number!.Value));
        Assert.Equal((ExtendedStart + 8) * 512L, layout.Partitions[0].Offset);
        var skipped = Assert.Single(layout.Skipped);
        Assert.Equal(("partition 1", "extended partition: more than 64 logical partitions; the rest of its chain is not searched"), (skipped.Where, skipped.Reason));
    }

    [Fact]
    public void A_gpt_is_read_in_entry_order_with_its_types()
    {
        var bytes = Partitioned(16 * MiB, $"label: gpt\nstart=2048, size=4096, type={EfiSystem}\nstart=8192, size=2048, type={LinuxFilesystem}\nstart=12288, size=4096, type={BasicData}\n");

        var layout = VolumeLocator.Locate(new MemoryBlockSource(bytes));

        Assert.Equal(PartitionScheme.Gpt, layout.Scheme);
        Assert.Equal(512, layout.SectorSize);
        Assert.Equal(
            [new StickPartition(1, MiB, 2 * MiB, "GPT type EFI System"), new StickPartition(2, 4 * MiB, MiB, "GPT type Linux filesystem"), new StickPartition(3, 6 * MiB, 2 * MiB, "GPT type Microsoft basic data")],
            layout.Partitions);
        Assert.Empty(layout.Skipped);
    }

    [Theory]
    [InlineData(512 + 56, "GPT header's CRC32 does not match")]          // the disk GUID
    [InlineData(1024 + 56, "CRC32 of the GPT partition entries does not match")] // entry 1's name
    [InlineData(512 + 24, "GPT header's CRC32 does not match")]          // the header's own LBA
    public void A_damaged_gpt_is_refused_naming_the_fault(int offset, string expected)
    {
        var bytes = Partitioned(4 * MiB, $"label: gpt\nstart=2048, size=4096, type={BasicData}\n");
        bytes[offset] ^= 0x01;

        var error = Assert.Throws<FatFormatException>(() => VolumeLocator.Locate(new MemoryBlockSource(bytes)));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("gdisk", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_protective_mbr_without_a_gpt_header_is_refused()
    {
        var bytes = Partitioned(4 * MiB, $"label: gpt\nstart=2048, size=4096, type={BasicData}\n");
        bytes[512] = (byte)'X';

        var error = Assert.Throws<FatFormatException>(() => VolumeLocator.Locate(new MemoryBlockSource(bytes)));

        Assert.Contains("no GPT header (\"EFI PART\") at LBA 1 with 512 or 4096-byte sectors", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_partition_beyond_the_end_of_the_device_is_cut_there_and_reported()
    {
        // Changed with issue 10: once refused; a truncated image is now read as far as it goes.
        var bytes = Partitioned(4 * MiB, "label: dos\nstart=2048, size=4096, type=c\nstart=6144, size=1024, type=c\n");

        var layout = VolumeLocator.Locate(new MemoryBlockSource(bytes.AsMemory(0, (int)(2 * MiB))));

        Assert.Equal([new StickPartition(1, MiB, MiB, "MBR type 0x0C")], layout.Partitions);
        Assert.Equal(2, layout.Skipped.Count);
        Assert.Equal("partition 1", layout.Skipped[0].Where);
        Assert.Contains("sectors 2048 to 6143: does not lie within the device (4096 sectors of 512 bytes); read as far as the device goes", layout.Skipped[0].Reason, StringComparison.Ordinal);
        Assert.Contains("starts beyond the end of the device", layout.Skipped[1].Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("83")]
    [InlineData("ef")]
    [InlineData("7")]
    public void A_table_without_a_fat_partition_is_refused(string type)
    {
        var bytes = Partitioned(4 * MiB, $"label: dos\nstart=2048, size=4096, type={type}\n");

        var error = Assert.Throws<FatFormatException>(() => FatStick.Open(new MemoryBlockSource(bytes)));

        Assert.Contains("holds no FAT partition", error.Message, StringComparison.Ordinal);
        Assert.Contains("partition 1: MBR type 0x", error.Message, StringComparison.Ordinal);
        Assert.Contains("no FAT file system (boot sector: no 0x55AA signature", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_exfat_partition_is_named_as_unsupported()
    {
        // No exFAT tools here: the signature of an exFAT boot sector, patched into a real table.
        var bytes = Partitioned(4 * MiB, $"label: gpt\nstart=2048, size=4096, type={BasicData}\n");
        Encoding.ASCII.GetBytes("EXFAT   ").CopyTo(bytes, (int)MiB + 3);

        var error = Assert.Throws<FatFormatException>(() => FatStick.Open(new MemoryBlockSource(bytes)));

        Assert.Contains("partition 1: GPT type Microsoft basic data, holds exFAT, which this reader does not support", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stick_without_signature_is_refused()
    {
        var error = Assert.Throws<FatFormatException>(() => VolumeLocator.Locate(new MemoryBlockSource(new byte[MiB])));

        Assert.Contains("no 0x55AA signature", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stick_smaller_than_a_sector_is_refused()
    {
        var error = Assert.Throws<FatFormatException>(() => VolumeLocator.Locate(new MemoryBlockSource(new byte[100])));

        Assert.Contains("sector 0 lies beyond the end of the device", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Garbage_in_a_partition_status_byte_is_refused()
    {
        var bytes = (byte[])images[FatImageFixture.MbrFat16].Bytes.Clone();
        bytes[446 + 16] = 0x12;

        var error = Assert.Throws<FatFormatException>(() => VolumeLocator.Locate(new MemoryBlockSource(bytes)));

        Assert.Contains("partition 2 has status byte 0x12", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Sectors of the extended boot records, in chain order (read the test's own way).</summary>
    private static List<long> FindEbrs(byte[] bytes, long extendedStart)
    {
        var ebrs = new List<long>();
        var ebr = extendedStart;
        while (ebrs.Count < 10)
        {
            ebrs.Add(ebr);
            var next = BitConverter.ToUInt32(bytes, (int)((ebr * 512) + 446 + 16 + 8));
            if (next == 0)
            {
                break;
            }

            ebr = extendedStart + next;
        }

        return ebrs;
    }

    private static void WriteUInt32(byte[] bytes, long offset, uint value) => BitConverter.GetBytes(value).CopyTo(bytes, (int)offset);

    private byte[] Partitioned(long size, string script)
    {
        var path = _directory.PathOf("disk.img");
        KeyStickImage.Partition(path, (int)(size / MiB), script);
        return File.ReadAllBytes(path);
    }
}
