using LuksVirt.Core.Usb;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Tests.Usb;

/// <summary>Images made by mkfs.vfat, sfdisk and mtools read back: the listing agrees with
/// mdir's, and every file comes back byte for byte.</summary>
[Collection(FatImageGroup.Name)]
public sealed class FatVolumeRealImageTests(FatImageFixture images)
{
    public static TheoryData<string> StandardImages => [.. FatImageFixture.StandardImageNames];

    [Theory]
    [MemberData(nameof(StandardImages))]
    public void Type_is_the_one_mkfs_was_asked_for(string name)
    {
        var image = images[name];
        var volume = FatVolume.OpenDevice(new MemoryBlockSource(image.Bytes));
        Assert.Equal(image.Type, volume.Type);
        Assert.Equal(image.Layout.ClusterSize, volume.BytesPerCluster);
    }

    [Theory]
    [MemberData(nameof(StandardImages))]
    public void Listing_matches_mdir(string name)
    {
        var image = images[name];
        var volume = FatVolume.OpenDevice(new MemoryBlockSource(image.Bytes));

        var listed = volume.EnumerateEntries().Select(e => "::/" + e.Path + (e.IsDirectory ? "/" : string.Empty)).Order(StringComparer.Ordinal);

        Assert.Equal(image.MdirListing.Order(StringComparer.Ordinal), listed);
        Assert.Equal(image.Files.Count + 4, image.MdirListing.Count); // Keys, Keys/Deep, Keys/Deep/Deeper, many
    }

    [Theory]
    [MemberData(nameof(StandardImages))]
    public void Every_file_reads_back_byte_identical(string name)
    {
        var image = images[name];
        var volume = FatVolume.OpenDevice(new MemoryBlockSource(image.Bytes));
        var files = volume.EnumerateFiles();

        Assert.Equal(image.Files.Keys.Order(StringComparer.Ordinal), files.Select(f => f.Path).Order(StringComparer.Ordinal));
        foreach (var file in files)
        {
            var expected = image.Files[file.Path];
            Assert.Equal(expected.Length, file.Size);
            if (expected.Length == 0)
            {
                var error = Assert.Throws<FatFormatException>(() => volume.ReadFile(file));
                Assert.Contains("empty", error.Message, StringComparison.Ordinal);
                continue;
            }

            using var content = volume.ReadFile(file, maxBytes: 1024 * 1024);
            Assert.True(content.Span.SequenceEqual(expected), $"{file.Path} differs from what mcopy wrote");
        }
    }

    [Theory]
    [MemberData(nameof(StandardImages))]
    public void Names_attributes_and_short_names_are_decoded(string name)
    {
        var volume = FatVolume.OpenDevice(new MemoryBlockSource(images[name].Bytes));
        var entries = volume.EnumerateEntries().ToDictionary(e => e.Path, StringComparer.Ordinal);

        // Long name over an 8.3 alias mtools generated.
        Assert.Equal("LUKS-A~1.KEY", entries["luks-alice.1.key"].ShortName);
        Assert.Equal("MIXEDC~1.KEY", entries["Keys/MixedCase-LongName.Key"].ShortName);
        // "short.key" fits 8.3 in one case: no long name, lower case from the entry's case flags.
        Assert.Equal("SHORT.KEY", entries["short.key"].ShortName);
        Assert.Equal("UPPER.KEY", entries["UPPER.KEY"].ShortName);
        Assert.Equal(FatAttributes.Hidden | FatAttributes.ReadOnly, entries["hidden.key"].Attributes & (FatAttributes.Hidden | FatAttributes.ReadOnly));
        Assert.True(entries["Keys/Deep"].IsDirectory);
        Assert.Equal("Keys", entries["Keys/Deep"].DirectoryPath);
        Assert.Equal("nested key with spaces.key", entries["Keys/Deep/Deeper/nested key with spaces.key"].Name);
    }

    [Theory]
    [MemberData(nameof(StandardImages))]
    public void A_key_larger_than_the_callers_limit_is_refused(string name)
    {
        var volume = FatVolume.OpenDevice(new MemoryBlockSource(images[name].Bytes));
        var file = volume.EnumerateFiles().Single(f => f.Path == "luks-alice.1.key");

        var error = Assert.Throws<FatFormatException>(() => volume.ReadFile(file, maxBytes: 64));
        Assert.Contains("more than the limit of 64", error.Message, StringComparison.Ordinal);
        using var exact = volume.ReadFile(file, maxBytes: 65);
        Assert.Equal(65, exact.Length);
    }

    [Fact]
    public void The_limits_cap_what_the_caller_asks_for()
    {
        var image = images[FatImageFixture.Fat16];
        var volume = FatVolume.Open(new MemoryBlockSource(image.Bytes), new FatReaderLimits { MaxFileSize = 100 });
        var file = volume.EnumerateFiles().Single(f => f.Path == "luks-bob.7.key");

        Assert.Throws<FatFormatException>(() => volume.ReadFile(file, maxBytes: SecretBuffer.MaxKeyLength));
    }

    [Fact]
    public void Directories_nested_deeper_than_the_limit_are_refused_and_allowed_when_raised()
    {
        var image = images[FatImageFixture.Deep];
        var source = new MemoryBlockSource(image.Bytes);

        var error = Assert.Throws<FatFormatException>(() => FatVolume.Open(source).EnumerateEntries());
        Assert.Contains("deeper than the limit of 8", error.Message, StringComparison.Ordinal);

        var volume = FatVolume.Open(source, new FatReaderLimits { MaxDirectoryDepth = FatImageFixture.DeepLevels });
        var listed = volume.EnumerateEntries().Select(e => "::/" + e.Path + (e.IsDirectory ? "/" : string.Empty));
        Assert.Equal(image.MdirListing.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
        var bottom = volume.EnumerateFiles().Single();
        using var content = volume.ReadFile(bottom);
        Assert.True(content.Span.SequenceEqual(image.Files[bottom.Path]));
    }

    [Fact]
    public void The_entry_limit_stops_a_scan()
    {
        var volume = FatVolume.Open(new MemoryBlockSource(images[FatImageFixture.Fat12].Bytes), new FatReaderLimits { MaxEntriesScanned = 50 });

        var error = Assert.Throws<FatFormatException>(volume.EnumerateEntries);
        Assert.Contains("limit of 50 entries", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_directory_cluster_limit_stops_a_long_directory()
    {
        // "many" holds 40 files with long names: 160 slots, 10 clusters of 512 bytes.
        var volume = FatVolume.Open(new MemoryBlockSource(images[FatImageFixture.Fat16].Bytes), new FatReaderLimits { MaxDirectoryClusters = 4 });

        var error = Assert.Throws<FatFormatException>(volume.EnumerateEntries);
        Assert.Contains("\"many\" is longer than the limit of 4 clusters", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_read_budget_stops_a_volume_that_reads_too_much()
    {
        var volume = FatVolume.Open(new MemoryBlockSource(images[FatImageFixture.Fat16].Bytes), new FatReaderLimits { MaxBytesRead = 8 * 1024 });

        var error = Assert.Throws<FatFormatException>(volume.EnumerateEntries);
        Assert.Contains("limit of 8192 bytes read", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Listing_a_fat32_stick_reads_little_of_it()
    {
        var volume = FatVolume.Open(new MemoryBlockSource(images[FatImageFixture.Fat32].Bytes));
        volume.EnumerateEntries();

        // The FAT alone is over 260 KiB; the reader fetches only the sectors it needs.
        Assert.InRange(volume.BytesRead, 1, 64 * 1024);
    }
}
