using System.Text;
using LuksVirt.Core.Usb;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Usb;

/// <summary>Partition tables written by sfdisk: where the FAT volume is, and clear refusals.</summary>
[Collection(FatImageGroup.Name)]
public sealed class VolumeLocatorTests(FatImageFixture images) : IDisposable
{
    private const long MiB = 1024 * 1024;

    private readonly TempDirectory _directory = new("fat-mbr");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void A_superfloppy_is_the_volume_itself()
    {
        var image = images[FatImageFixture.Fat32];

        var location = VolumeLocator.Locate(new MemoryBlockSource(image.Bytes));

        Assert.Equal(new FatVolumeLocation(0, image.Bytes.Length, null), location);
    }

    [Fact]
    public void A_fat_partition_at_one_mebibyte_is_found()
    {
        var image = images[FatImageFixture.MbrFat16];

        var location = VolumeLocator.Locate(new MemoryBlockSource(image.Bytes));

        Assert.Equal(new FatVolumeLocation(MiB, 3 * MiB, 1), location);
    }

    [Fact]
    public void The_first_fat_partition_is_chosen_after_other_types()
    {
        var bytes = Partitioned(8 * MiB, "label: dos\nstart=2048, size=2048, type=83\nstart=4096, size=4096, type=c\nstart=8192, size=4096, type=6\n");

        var location = VolumeLocator.Locate(new MemoryBlockSource(bytes));

        Assert.Equal(new FatVolumeLocation(2 * MiB, 2 * MiB, 2), location);
    }

    [Fact]
    public void A_gpt_stick_is_refused_as_such()
    {
        var bytes = Partitioned(4 * MiB, "label: gpt\nstart=2048, size=4096, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n");

        var error = Assert.Throws<FatFormatException>(() => VolumeLocator.Locate(new MemoryBlockSource(bytes)));

        Assert.Contains("GPT partition table, which is not supported", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_partition_beyond_the_end_of_the_device_is_refused()
    {
        var bytes = Partitioned(4 * MiB, "label: dos\nstart=2048, size=6144, type=c\n");

        var error = Assert.Throws<FatFormatException>(() => VolumeLocator.Locate(new MemoryBlockSource(bytes.AsMemory(0, (int)(2 * MiB)))));

        Assert.Contains("MBR partition 1 (sectors 2048 to 8191) does not lie within the device (4096 sectors)", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("83")]
    [InlineData("ef")]
    [InlineData("7")]
    public void A_table_without_a_fat_partition_is_refused(string type)
    {
        var bytes = Partitioned(4 * MiB, $"label: dos\nstart=2048, size=4096, type={type}\n");

        var error = Assert.Throws<FatFormatException>(() => VolumeLocator.Locate(new MemoryBlockSource(bytes)));

        Assert.Contains("holds no FAT partition", error.Message, StringComparison.Ordinal);
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

    private byte[] Partitioned(long size, string script)
    {
        var path = _directory.PathOf("disk.img");
        using (var file = File.Create(path))
        {
            file.SetLength(size);
        }

        ToolRunner.Run("sfdisk", ["-q", path], Encoding.ASCII.GetBytes(script)).EnsureSuccess("sfdisk");
        return File.ReadAllBytes(path);
    }
}
