using LuksVirt.Core.Usb;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Usb;

/// <summary>The reader on real files and a real block device (a loop device over an image):
/// the way a stick is read in production, without mounting it.</summary>
[Collection(FatImageGroup.Name)]
public sealed class FileBlockSourceTests(FatImageFixture images) : IDisposable
{
    private readonly TempDirectory _directory = new("fat-dev");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void An_image_file_reads_like_the_stick()
    {
        var image = images[FatImageFixture.MbrFat16];
        var path = _directory.PathOf("stick.img");
        File.WriteAllBytes(path, image.Bytes);

        using var source = FileBlockSource.Open(path);

        Assert.Equal(image.Bytes.Length, source.Length);
        AssertReadsEveryFile(image, source);
        Assert.Equal(0, source.Read(source.Length, new byte[16]));
    }

    [Fact]
    public void A_handle_the_caller_opened_stays_the_callers()
    {
        var image = images[FatImageFixture.Fat12];
        var path = _directory.PathOf("stick.img");
        File.WriteAllBytes(path, image.Bytes);
        using var handle = File.OpenHandle(path);

        using (var source = FileBlockSource.Open(handle))
        {
            Assert.Equal(image.Bytes.Length, source.Length);
            AssertReadsEveryFile(image, source);
        }

        Assert.False(handle.IsClosed);
    }

    [Fact]
    public void A_block_device_is_measured_and_read()
    {
        var image = images[FatImageFixture.Fat16];
        var path = _directory.PathOf("stick.img");
        File.WriteAllBytes(path, image.Bytes);
        var device = ToolRunner.Run("losetup", "--find", "--show", "--read-only", path).EnsureSuccess("losetup").StandardOutput.Trim();
        try
        {
            using var source = FileBlockSource.Open(device);

            // fstat says 0 for a block device; the source probes for the end instead.
            Assert.Equal(image.Bytes.Length, source.Length);
            AssertReadsEveryFile(image, source);
        }
        finally
        {
            ToolRunner.Run("losetup", "--detach", device).EnsureSuccess("losetup --detach");
        }
    }

    private static void AssertReadsEveryFile(FatTestImage image, IBlockSource source)
    {
        var volume = FatVolume.OpenDevice(source);
        var files = volume.EnumerateFiles().Where(f => f.Size > 0).ToList();
        Assert.Equal(image.Files.Count(f => f.Value.Length > 0), files.Count);
        foreach (var file in files)
        {
            using var content = volume.ReadFile(file, 1024 * 1024);
            Assert.True(content.Span.SequenceEqual(image.Files[file.Path]), file.Path);
        }
    }
}
