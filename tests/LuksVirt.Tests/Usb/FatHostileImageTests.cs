using System.Buffers.Binary;
using System.Text;
using LuksVirt.Core.Usb;

namespace LuksVirt.Tests.Usb;

/// <summary>Hand-made attacks on real images, quickly and without large allocations: damage to
/// one directory or entry is skipped and reported while the rest is read; damage to the volume
/// (boot sector) or to one file is refused with a <see cref="FatFormatException"/> naming the
/// structure.</summary>
[Collection(FatImageGroup.Name)]
public sealed class FatHostileImageTests(FatImageFixture images)
{
    private const uint Fat12EndOfChain = 0xFFF;

    [Fact]
    public void A_file_chain_pointing_to_itself_is_a_loop()
    {
        var (image, source) = Patchable(FatImageFixture.Fat12);
        var first = FirstCluster(source, FindSlot(image, "EXACT-~1BIN"));
        image.Layout.WriteFatEntry(at => source[at], (at, b) => source[at] = b, first, first);

        var volume = FatVolume.Open(source);
        var file = volume.EnumerateFiles().Single(f => f.Name == "exact-clusters.bin");

        var error = Assert.Throws<FatFormatException>(() => volume.ReadFile(file, 1024 * 1024));
        Assert.Contains("loops back to cluster " + first, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_directory_chain_pointing_to_itself_is_read_up_to_the_loop_and_the_rest_is_listed()
    {
        // Changed with issue 10: the loop once refused the whole volume; now it ends only "many".
        var (image, source) = Patchable(FatImageFixture.Fat12);
        var many = FirstCluster(source, FindSlot(image, "MANY       "));
        var second = image.Layout.ReadFatEntry(at => source[at], many);
        Assert.InRange(second, 2u, 0xFF6u); // "many" spans several clusters
        image.Layout.WriteFatEntry(at => source[at], (at, b) => source[at] = b, second, many);

        var volume = FatVolume.Open(source);
        var paths = volume.EnumerateFiles().Select(f => f.Path).ToList();

        var skipped = Assert.Single(volume.Skipped);
        Assert.Equal("many", skipped.Where);
        Assert.Contains($"the directory reaches cluster {many} a second time", skipped.Reason, StringComparison.Ordinal);
        Assert.Contains("the directory is read up to slot", skipped.Reason, StringComparison.Ordinal);
        Assert.Equal(image.Files.Keys.Where(p => !p.StartsWith("many/", StringComparison.Ordinal)).Order(StringComparer.Ordinal), paths.Where(p => !p.StartsWith("many/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.InRange(paths.Count(p => p.StartsWith("many/", StringComparison.Ordinal)), 1, FatImageFixture.FillerFiles - 1);
    }

    [Theory]
    [InlineData(FatImageFixture.Fat12)]
    [InlineData(FatImageFixture.Fat32)]
    public void A_subdirectory_pointing_back_at_its_ancestor_is_skipped_and_the_rest_listed(string name)
    {
        // Changed with issue 10: once refused the whole volume.
        var (image, source) = Patchable(name);
        var keys = FirstCluster(source, FindSlot(image, "KEYS       "));
        SetFirstCluster(source, FindSlot(image, "DEEPER     "), keys);

        var volume = FatVolume.Open(source);
        var files = volume.EnumerateFiles();

        var skipped = Assert.Single(volume.Skipped);
        Assert.Equal(("Keys/Deep/Deeper", $"the directory reaches cluster {keys} a second time (a loop in its chain or in the directory tree, or a cross-link); directory skipped"), (skipped.Where, skipped.Reason));
        Assert.Equal(image.Files.Keys.Where(p => !p.StartsWith("Keys/Deep/Deeper/", StringComparison.Ordinal)).Order(StringComparer.Ordinal), files.Select(f => f.Path).Order(StringComparer.Ordinal));
        AssertReadsBack(image, volume, files);
    }

    [Fact]
    public void A_fat32_subdirectory_pointing_at_the_root_is_skipped()
    {
        // Changed with issue 10: once refused the whole volume.
        var (image, source) = Patchable(FatImageFixture.Fat32);
        SetFirstCluster(source, FindSlot(image, "DEEP       "), image.Layout.RootCluster);

        var volume = FatVolume.Open(source);
        var paths = volume.EnumerateFiles().Select(f => f.Path);

        var skipped = Assert.Single(volume.Skipped);
        Assert.Equal("Keys/Deep", skipped.Where);
        Assert.Contains("a second time", skipped.Reason, StringComparison.Ordinal);
        Assert.Equal(image.Files.Keys.Where(p => !p.StartsWith("Keys/Deep/", StringComparison.Ordinal)).Order(StringComparer.Ordinal), paths.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(0x000u, "runs into a free FAT entry", "the directory is read up to slot")]
    [InlineData(0xFF7u, "runs into a cluster marked bad", "the directory is read up to slot")]
    public void A_directory_chain_into_an_invalid_fat_entry_is_read_up_to_there(uint value, string fault, string consequence)
    {
        var (image, source) = Patchable(FatImageFixture.Fat12);
        var many = FirstCluster(source, FindSlot(image, "MANY       "));
        image.Layout.WriteFatEntry(at => source[at], (at, b) => source[at] = b, many, value);

        var volume = FatVolume.Open(source);
        var paths = volume.EnumerateFiles().Select(f => f.Path).ToList();

        var skipped = Assert.Single(volume.Skipped);
        Assert.Equal("many", skipped.Where);
        Assert.Contains(fault, skipped.Reason, StringComparison.Ordinal);
        Assert.Contains(consequence, skipped.Reason, StringComparison.Ordinal);
        Assert.Contains("luks-alice.1.key", paths);
        Assert.Contains("many/filler-00-with-a-long-name.txt", paths);
    }

    [Fact]
    public void A_subdirectory_starting_outside_the_data_region_is_skipped()
    {
        var (image, source) = Patchable(FatImageFixture.Fat16);
        SetFirstCluster(source, FindSlot(image, "DEEP       "), 0xFFF0);

        var volume = FatVolume.Open(source);
        var paths = volume.EnumerateFiles().Select(f => f.Path);

        var skipped = Assert.Single(volume.Skipped);
        Assert.Equal("Keys/Deep", skipped.Where);
        Assert.Contains("the directory refers to cluster 65520, outside clusters 2 to", skipped.Reason, StringComparison.Ordinal);
        Assert.EndsWith("; directory skipped", skipped.Reason, StringComparison.Ordinal);
        Assert.Contains("Keys/MixedCase-LongName.Key", paths);
    }

    [Fact]
    public void A_boot_sector_claiming_two_to_the_32_clusters_is_refused()
    {
        // A "2 TiB stick" so that only the cluster count can be wrong.
        var source = new PatchedBlockSource(Fat32BootSector(totalSectors: uint.MaxValue, fatSectors: 0x0100_0000), length: 1L << 41);

        var error = Assert.Throws<FatFormatException>(() => FatVolume.Open(source));
        Assert.Contains("exceed the FAT32 maximum", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_boot_sector_claiming_more_than_the_device_holds_is_read_as_far_as_the_device_goes()
    {
        // Changed with issue 10: once refused. A consistent FAT32 of 511 MB on a 16 MiB device:
        // a file near the start reads, one beyond the end is refused alone.
        const uint Clusters = 0x000F_0000;
        const uint FatSectors = 0x2000;
        const uint Reserved = 32;
        var totalSectors = Reserved + (2 * FatSectors) + Clusters;
        var source = new PatchedBlockSource(Fat32BootSector(totalSectors, FatSectors), length: 16 * 1024 * 1024);
        var dataOffset = (Reserved + (2L * FatSectors)) * 512;
        const uint NearCluster = 3;
        const uint FarCluster = Clusters;
        foreach (var cluster in new uint[] { 2, NearCluster, FarCluster })
        {
            source.Write((Reserved * 512L) + (cluster * 4L), [0xFF, 0xFF, 0xFF, 0x0F]);
        }

        source.Write(dataOffset, DirectoryEntry("NEAR    KEY", NearCluster, 5));
        source.Write(dataOffset + 32, DirectoryEntry("FAR     KEY", FarCluster, 4));
        source.Write(dataOffset + ((NearCluster - 2L) * 512), "near\n"u8);

        var volume = FatVolume.Open(source);
        var files = volume.EnumerateFiles();
        using var near = volume.ReadFile(files.Single(f => f.Name == "NEAR.KEY"));
        var error = Assert.Throws<FatFormatException>(() => volume.ReadFile(files.Single(f => f.Name == "FAR.KEY")));

        Assert.True(volume.IsTruncated);
        Assert.True(near.Span.SequenceEqual("near\n"u8));
        Assert.Contains("file \"FAR.KEY\" lies beyond the end of the device", error.Message, StringComparison.Ordinal);
        var skipped = Assert.Single(volume.Skipped);
        Assert.Equal("/", skipped.Where);
        Assert.Contains($"the file system claims {totalSectors * 512L} bytes but the device holds only 16777216", skipped.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fat_too_small_for_its_clusters_is_refused()
    {
        var source = new PatchedBlockSource(Fat32BootSector(totalSectors: 0x0100_0000, fatSectors: 16), length: 1L << 41);

        var error = Assert.Throws<FatFormatException>(() => FatVolume.Open(source));
        Assert.Contains("too few for", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_huge_consistent_fat32_is_read_only_where_needed()
    {
        // 268 million clusters, a 1 GiB FAT, a 137 GB volume: all zero but what is patched in.
        const uint Clusters = 0x0FFF_FFF0;
        const uint FatSectors = 0x0020_0000;
        const uint Reserved = 32;
        var totalSectors = Reserved + (2 * FatSectors) + Clusters;
        var source = new PatchedBlockSource(Fat32BootSector(totalSectors, FatSectors), length: totalSectors * 512L);
        var dataOffset = (Reserved + (2L * FatSectors)) * 512;
        const uint FarCluster = Clusters;   // the last cluster but one
        source.Write((Reserved * 512L) + (2 * 4), [0xFF, 0xFF, 0xFF, 0x0F]);           // root: one cluster
        source.Write((Reserved * 512L) + (FarCluster * 4L), [0xFF, 0xFF, 0xFF, 0x0F]); // the key: one cluster
        var entry = new byte[32];
        "FAR     KEY"u8.CopyTo(entry);
        BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(20), (ushort)(FarCluster >> 16));
        BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(26), unchecked((ushort)FarCluster));
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(28), 5);
        source.Write(dataOffset, entry);
        source.Write(dataOffset + ((FarCluster - 2L) * 512), "far!\n"u8);

        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var volume = FatVolume.Open(source);
        var file = Assert.Single(volume.EnumerateFiles());
        using var content = volume.ReadFile(file);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.Equal(FatType.Fat32, volume.Type);
        Assert.Equal(Clusters, volume.ClusterCount);
        Assert.True(content.Span.SequenceEqual("far!\n"u8));
        Assert.InRange(volume.BytesRead, 1, 8 * 1024);
        Assert.InRange(allocated, 1, 256 * 1024);
    }

    [Fact]
    public void A_4_GiB_file_size_is_refused_without_allocating_for_it()
    {
        var (image, source) = Patchable(FatImageFixture.Fat16);
        source.Write(FindSlot(image, "LUKS-A~1KEY") + 28, [0xFF, 0xFF, 0xFF, 0xFF]);
        var volume = FatVolume.Open(source);
        var file = volume.EnumerateFiles().Single(f => f.Path == "luks-alice.1.key");
        Assert.Equal(uint.MaxValue, file.Size);

        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<FatFormatException>(() => volume.ReadFile(file, int.MaxValue));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.Contains("holds 4294967295 bytes, more than the limit of 8388608", error.Message, StringComparison.Ordinal);
        Assert.InRange(allocated, 0, 64 * 1024);
    }

    [Theory]
    [InlineData(13, 0x01, "a bad checksum")]
    [InlineData(0, 0x03, "a sequence gap")]
    [InlineData(26, 0x01, "a cluster number")]
    public void A_broken_long_name_run_falls_back_to_the_short_name(int offsetInSlot, byte xor, string what)
    {
        var (image, source) = Patchable(FatImageFixture.Fat16);
        // "MixedCase-LongName.Key" needs two long-name slots; the one right before the 8.3 entry has sequence 1.
        var lastPart = FindSlot(image, "MIXEDC~1KEY") - 32;
        Assert.Equal(0x01, source[lastPart]);
        source[lastPart + offsetInSlot] ^= xor;

        var names = FatVolume.Open(source).EnumerateFiles().Select(f => f.Path).ToHashSet(StringComparer.Ordinal);

        Assert.True(names.Contains("Keys/MIXEDC~1.KEY"), what);
        Assert.DoesNotContain("Keys/MixedCase-LongName.Key", names);
        Assert.Contains("Keys/clé-ünïcode.key", names);
    }

    [Fact]
    public void A_long_name_with_a_slash_falls_back_to_the_short_name()
    {
        var (image, source) = Patchable(FatImageFixture.Fat16);
        var lastPart = FindSlot(image, "MIXEDC~1KEY") - 32;
        source[lastPart + 1] = (byte)'/';   // first character of the name

        var names = FatVolume.Open(source).EnumerateFiles().Select(f => f.Path);

        Assert.Contains("Keys/MIXEDC~1.KEY", names);
    }

    [Fact]
    public void A_chain_shorter_than_the_size_is_refused()
    {
        var (image, source) = Patchable(FatImageFixture.Fat12);
        var slot = FindSlot(image, "PARTIA~1BIN");
        source.Write(slot + 28, LittleEndian((uint)(4 * image.Layout.ClusterSize)));
        var volume = FatVolume.Open(source);
        var file = volume.EnumerateFiles().Single(f => f.Name == "partial-clusters.bin");

        var error = Assert.Throws<FatFormatException>(() => volume.ReadFile(file, 1024 * 1024));
        Assert.Contains("ends after 3 clusters", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_chain_longer_than_the_size_is_refused()
    {
        var (image, source) = Patchable(FatImageFixture.Fat12);
        source.Write(FindSlot(image, "EXACT-~1BIN") + 28, LittleEndian(100));
        var volume = FatVolume.Open(source);
        var file = volume.EnumerateFiles().Single(f => f.Name == "exact-clusters.bin");

        var error = Assert.Throws<FatFormatException>(() => volume.ReadFile(file));
        Assert.Contains("longer than its size", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x000u, "free FAT entry")]
    [InlineData(0x001u, "reserved FAT entry")]
    [InlineData(0xFF7u, "marked bad")]
    [InlineData(0xFF0u, "beyond the last cluster")]
    public void A_chain_running_into_an_invalid_fat_entry_is_refused(uint value, string expected)
    {
        var (image, source) = Patchable(FatImageFixture.Fat12);
        var first = FirstCluster(source, FindSlot(image, "EXACT-~1BIN"));
        image.Layout.WriteFatEntry(at => source[at], (at, b) => source[at] = b, first, value);
        var volume = FatVolume.Open(source);
        var file = volume.EnumerateFiles().Single(f => f.Name == "exact-clusters.bin");

        var error = Assert.Throws<FatFormatException>(() => volume.ReadFile(file, 1024 * 1024));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_starting_outside_the_data_region_is_refused()
    {
        var (image, source) = Patchable(FatImageFixture.Fat12);
        SetFirstCluster(source, FindSlot(image, "SHORT   KEY"), 0xFF0);
        var volume = FatVolume.Open(source);
        var file = volume.EnumerateFiles().Single(f => f.Name == "short.key");

        var error = Assert.Throws<FatFormatException>(() => volume.ReadFile(file));
        Assert.Contains("refers to cluster 4080, outside clusters 2 to", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_cross_linked_into_a_directory_is_refused()
    {
        var (image, source) = Patchable(FatImageFixture.Fat12);
        var keys = FirstCluster(source, FindSlot(image, "KEYS       "));
        SetFirstCluster(source, FindSlot(image, "SHORT   KEY"), keys);
        var volume = FatVolume.Open(source);
        var file = volume.EnumerateFiles().Single(f => f.Name == "short.key");

        var error = Assert.Throws<FatFormatException>(() => volume.ReadFile(file));
        Assert.Contains($"file \"short.key\" shares cluster {keys} with a directory", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(FatImageFixture.Fat16)]
    [InlineData(FatImageFixture.Fat32)]
    [InlineData(FatImageFixture.MbrFat16)]
    public void A_truncated_image_yields_the_files_inside_and_refuses_those_beyond(string name)
    {
        // Changed with issue 10: a truncated image was refused as a whole. Cut where the last
        // key-like file begins: the files before it are whole; it and the fillers written after it
        // lie beyond, and so do the clusters "many" grew by while they were added.
        var image = images[name];
        var cut = FatVolume.OpenDevice(new MemoryBlockSource(image.Bytes)).EnumerateFiles().Single(f => f.Name == "nested key with spaces.key");
        var source = new PatchedBlockSource(image.Bytes, length: image.Layout.ClusterOffset(cut.FirstCluster));

        var volume = FatVolume.OpenDevice(source);
        var files = volume.EnumerateFiles();

        Assert.True(volume.IsTruncated);
        Assert.Equal(image.Files.Keys.Where(p => !p.StartsWith("many/", StringComparison.Ordinal)).Order(StringComparer.Ordinal), files.Select(f => f.Path).Where(p => !p.StartsWith("many/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Contains(files, f => f.Path.StartsWith("many/", StringComparison.Ordinal));
        Assert.Contains(volume.Skipped, s => s.Where == "/" && s.Reason.Contains("but the device holds only", StringComparison.Ordinal));
        Assert.Contains(volume.Skipped, s => s.Where == "many" && s.Reason.Contains("lies beyond the end of the device", StringComparison.Ordinal) && s.Reason.Contains("read up to slot", StringComparison.Ordinal));
        AssertReadsBack(image, volume, files.Where(f => f.FirstCluster < cut.FirstCluster));
        Assert.All(files.Where(f => f.FirstCluster >= cut.FirstCluster), file =>
        {
            var error = Assert.Throws<FatFormatException>(() => volume.ReadFile(file, 1024 * 1024));
            Assert.Contains("lies beyond the end of the device", error.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void A_stick_pulled_during_a_read_yields_no_partial_key()
    {
        var image = images[FatImageFixture.Fat12];
        var source = new PatchedBlockSource(image.Bytes);
        var volume = FatVolume.Open(source);
        var file = volume.EnumerateFiles().Single(f => f.Name == "exact-clusters.bin");
        var second = image.Layout.ReadFatEntry(at => source[at], file.FirstCluster);
        source.ReadableLength = image.Layout.ClusterOffset(second) + 10;

        var error = Assert.Throws<FatFormatException>(() => volume.ReadFile(file, 1024 * 1024));
        Assert.Contains("the device ended while reading file \"Keys/Deep/exact-clusters.bin\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_fat_type_comes_from_the_cluster_count_not_the_label()
    {
        var (image, source) = Patchable(FatImageFixture.Fat12);
        source.Write(54, "FAT32   "u8);

        var volume = FatVolume.Open(source);

        Assert.Equal(FatType.Fat12, volume.Type);
        Assert.Equal(image.Files.Count, volume.EnumerateFiles().Count);
    }

    [Fact]
    public void Fat32_without_mirroring_reads_the_active_fat()
    {
        var (image, source) = Patchable(FatImageFixture.Fat32);
        var first = FirstCluster(source, FindSlot(image, "EXACT-~1BIN"));
        image.Layout.WriteFatEntry(at => source[at], (at, b) => source[at] = b, first, 0);   // first FAT damaged
        source.Write(40, [0x81, 0x00]);                                                     // only FAT 1 is active

        var volume = FatVolume.Open(source);
        var file = volume.EnumerateFiles().Single(f => f.Name == "exact-clusters.bin");
        using var content = volume.ReadFile(file, 1024 * 1024);
        Assert.True(content.Span.SequenceEqual(image.Files[file.Path]));

        source.Write(40, [0x80, 0x00]);
        var firstFat = FatVolume.Open(source);
        Assert.Throws<FatFormatException>(() => firstFat.ReadFile(firstFat.EnumerateFiles().Single(f => f.Name == "exact-clusters.bin"), 1024 * 1024));

        source.Write(40, [0x82, 0x00]);
        var error = Assert.Throws<FatFormatException>(() => FatVolume.Open(source));
        Assert.Contains("active FAT 2 does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fat32_root_cluster_outside_the_volume_is_refused()
    {
        var (_, source) = Patchable(FatImageFixture.Fat32);
        source.Write(44, LittleEndian(0x0FFF_FFF0));

        var error = Assert.Throws<FatFormatException>(() => FatVolume.Open(source));
        Assert.Contains("root directory cluster 268435440 is outside", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(11, new byte[] { 0x00, 0x01 }, "bytes per sector 256")]
    [InlineData(11, new byte[] { 0x00, 0x20 }, "bytes per sector 8192")]
    [InlineData(11, new byte[] { 0x00, 0x03 }, "bytes per sector 768")]
    [InlineData(13, new byte[] { 3 }, "sectors per cluster 3")]
    [InlineData(13, new byte[] { 0 }, "sectors per cluster 0")]
    [InlineData(14, new byte[] { 0, 0 }, "reserved sector count is 0")]
    [InlineData(16, new byte[] { 3 }, "3 FATs")]
    [InlineData(16, new byte[] { 0 }, "0 FATs")]
    [InlineData(21, new byte[] { 0x12 }, "media descriptor 0x12")]
    [InlineData(17, new byte[] { 0, 0 }, "root directory has no entries")]
    [InlineData(19, new byte[] { 0, 0 }, "total sector count is 0")]
    [InlineData(14, new byte[] { 0xFF, 0xFF }, "leave no data region")]
    [InlineData(0, new byte[] { 0x00 }, "no jump instruction")]
    [InlineData(510, new byte[] { 0x55, 0x55 }, "no 0x55AA signature")]
    public void A_bad_boot_sector_field_is_named(int offset, byte[] value, string expected)
    {
        var (_, source) = Patchable(FatImageFixture.Fat16);
        source.Write(offset, value);

        var error = Assert.Throws<FatFormatException>(() => FatVolume.Open(source));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x07)]
    [InlineData((byte)'*')]
    [InlineData((byte)'/')]
    public void A_control_or_reserved_character_in_a_short_name_skips_that_entry_alone(byte bad)
    {
        // Changed with issue 10: once refused the whole volume.
        var (image, source) = Patchable(FatImageFixture.Fat12);
        var slot = FindSlot(image, "UPPER   KEY");
        source[slot + 2] = bad;

        var volume = FatVolume.Open(source);
        var files = volume.EnumerateFiles();

        var skipped = Assert.Single(volume.Skipped);
        var slotIndex = (slot - image.Layout.RootDirectoryOffset) / 32;
        Assert.Equal(($"(entry at slot {slotIndex})", "the 8.3 name contains a control or reserved character; entry skipped"), (skipped.Where, skipped.Reason));
        Assert.Equal(image.Files.Keys.Where(p => p != "UPPER.KEY").Order(StringComparer.Ordinal), files.Select(f => f.Path).Order(StringComparer.Ordinal));
        AssertReadsBack(image, volume, files);
    }

    [Fact]
    public void A_bad_short_name_under_a_valid_long_name_is_reported_by_the_long_name()
    {
        var (image, source) = Patchable(FatImageFixture.Fat16);
        var slot = FindSlot(image, "MIXEDC~1KEY");
        source[slot + 1] = (byte)'+';
        // The long name's parts carry the checksum of the 8.3 bytes: keep them matching.
        var name = new byte[11];
        for (var i = 0; i < 11; i++)
        {
            name[i] = source[slot + i];
        }

        var checksum = Checksum(name);
        for (var part = slot - 32; source[part + 11] == 0x0F; part -= 32)
        {
            source[part + 13] = checksum;
        }

        var volume = FatVolume.Open(source);
        var files = volume.EnumerateFiles();

        var skipped = Assert.Single(volume.Skipped);
        Assert.Equal(("Keys/MixedCase-LongName.Key", "the 8.3 name contains a control or reserved character; entry skipped"), (skipped.Where, skipped.Reason));
        Assert.DoesNotContain(files, f => f.Name.Contains("MixedCase", StringComparison.OrdinalIgnoreCase) || f.Name.Contains("M+XEDC", StringComparison.Ordinal));
        Assert.Equal(image.Files.Count - 1, files.Count);
    }

    [Fact]
    public void Skipped_entries_are_listed_up_to_a_bound_and_counted_beyond()
    {
        var (image, source) = Patchable(FatImageFixture.Fat12);
        var clean = FatVolume.Open(new MemoryBlockSource(image.Bytes)).EnumerateFiles();
        Assert.True(clean.Count > FatVolume.MaxSkippedListed);
        foreach (var file in clean)
        {
            source[SlotOf(image, file) + 1] = 0x01;
        }

        var volume = FatVolume.Open(source);

        Assert.Empty(volume.EnumerateFiles());
        Assert.Equal(FatVolume.MaxSkippedListed, volume.Skipped.Count);
        Assert.Equal(clean.Count - FatVolume.MaxSkippedListed, volume.SkippedNotListed);
        Assert.All(volume.Skipped, s => Assert.StartsWith("the 8.3 name contains a control", s.Reason, StringComparison.Ordinal));
    }

    [Fact]
    public void Deleted_entries_and_the_volume_label_are_not_listed()
    {
        var (image, source) = Patchable(FatImageFixture.Fat12);
        source[FindSlot(image, "UPPER   KEY")] = 0xE5;
        source[FindSlot(image, "LUKS-B~1KEY") + 11] = (byte)FatAttributes.VolumeId;

        var names = FatVolume.Open(source).EnumerateFiles().Select(f => f.Path).ToList();

        Assert.Equal(image.Files.Count - 2, names.Count);
        Assert.DoesNotContain("UPPER.KEY", names);
        Assert.DoesNotContain("luks-bob.7.key", names);
    }

    private static void AssertReadsBack(FatTestImage image, FatVolume volume, IEnumerable<FatFileEntry> files)
    {
        foreach (var file in files.Where(f => f.Size > 0))
        {
            using var content = volume.ReadFile(file, 1024 * 1024);
            Assert.True(content.Span.SequenceEqual(image.Files[file.Path]), file.Path);
        }
    }

    /// <summary>Offset of <paramref name="file"/>'s 8.3 entry, found by its first cluster and
    /// size (its 8.3 name may hold bytes no string shows).</summary>
    private static long SlotOf(FatTestImage image, FatFileEntry file)
    {
        var bytes = image.Bytes.AsSpan();
        for (var at = (int)image.Layout.RootDirectoryOffset; at + 32 <= bytes.Length; at += 32)
        {
            var slot = bytes.Slice(at, 32);
            var cluster = BinaryPrimitives.ReadUInt16LittleEndian(slot[26..]) | ((uint)BinaryPrimitives.ReadUInt16LittleEndian(slot[20..]) << 16);
            // Not free, not deleted; not a long-name part, directory or volume label (attribute bits 0x18).
            if (slot[0] is not (0 or 0xE5) && (slot[11] & 0x18) == 0
                && cluster == file.FirstCluster && BinaryPrimitives.ReadUInt32LittleEndian(slot[28..]) == file.Size)
            {
                return at;
            }
        }

        throw new InvalidOperationException($"no directory entry for {file.Path} in {image.Name}");
    }

    private static byte Checksum(ReadOnlySpan<byte> name)
    {
        byte sum = 0;
        foreach (var b in name)
        {
            sum = (byte)(((sum & 1) << 7) + (sum >> 1) + b);
        }

        return sum;
    }

    private static byte[] DirectoryEntry(string elevenBytes, uint firstCluster, uint size)
    {
        var entry = new byte[32];
        Encoding.ASCII.GetBytes(elevenBytes).CopyTo(entry, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(20), (ushort)(firstCluster >> 16));
        BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(26), unchecked((ushort)firstCluster));
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(28), size);
        return entry;
    }

    private (FatTestImage Image, PatchedBlockSource Source) Patchable(string name)
    {
        var image = images[name];
        return (image, new PatchedBlockSource(image.Bytes));
    }

    /// <summary>Offset of the 8.3 directory entry named <paramref name="shortName"/> (11 bytes, padded).</summary>
    private static long FindSlot(FatTestImage image, string shortName)
    {
        var needle = Encoding.ASCII.GetBytes(shortName);
        Assert.Equal(11, needle.Length);
        for (var at = image.Layout.VolumeOffset; at + 32 <= image.Bytes.Length; at += 32)
        {
            if (image.Bytes.AsSpan((int)at, 11).SequenceEqual(needle) && image.Bytes[at + 11] != 0x0F)
            {
                return at;
            }
        }

        throw new InvalidOperationException($"no directory entry {shortName} in {image.Name}");
    }

    private static uint FirstCluster(PatchedBlockSource source, long slot) =>
        (uint)(source[slot + 26] | (source[slot + 27] << 8) | (source[slot + 20] << 16) | (source[slot + 21] << 24));

    private static void SetFirstCluster(PatchedBlockSource source, long slot, uint cluster)
    {
        source.Write(slot + 26, [(byte)cluster, (byte)(cluster >> 8)]);
        source.Write(slot + 20, [(byte)(cluster >> 16), (byte)(cluster >> 24)]);
    }

    private static byte[] LittleEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>A FAT32 boot sector with 512-byte sectors, one sector per cluster, 32 reserved
    /// sectors, two FATs and the root at cluster 2.</summary>
    private static byte[] Fat32BootSector(uint totalSectors, uint fatSectors)
    {
        var sector = new byte[512];
        sector[0] = 0xEB;
        sector[1] = 0x58;
        sector[2] = 0x90;
        BinaryPrimitives.WriteUInt16LittleEndian(sector.AsSpan(11), 512);
        sector[13] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(sector.AsSpan(14), 32);
        sector[16] = 2;
        sector[21] = 0xF8;
        BinaryPrimitives.WriteUInt32LittleEndian(sector.AsSpan(32), totalSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(sector.AsSpan(36), fatSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(sector.AsSpan(44), 2);
        sector[510] = 0x55;
        sector[511] = 0xAA;
        return sector;
    }
}
