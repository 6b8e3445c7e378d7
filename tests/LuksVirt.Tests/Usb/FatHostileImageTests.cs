using System.Buffers.Binary;
using System.Text;
using LuksVirt.Core.Usb;

namespace LuksVirt.Tests.Usb;

/// <summary>Hand-made attacks on real images: each is refused with a
/// <see cref="FatFormatException"/> naming the structure, quickly and without large allocations.</summary>
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
    public void A_directory_chain_pointing_to_itself_is_a_loop()
    {
        var (image, source) = Patchable(FatImageFixture.Fat12);
        var many = FirstCluster(source, FindSlot(image, "MANY       "));
        var second = image.Layout.ReadFatEntry(at => source[at], many);
        Assert.InRange(second, 2u, 0xFF6u); // "many" spans several clusters
        image.Layout.WriteFatEntry(at => source[at], (at, b) => source[at] = b, second, many);

        var error = Assert.Throws<FatFormatException>(() => FatVolume.Open(source).EnumerateEntries());
        Assert.Contains($"directory \"many\" reaches cluster {many} a second time", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(FatImageFixture.Fat12)]
    [InlineData(FatImageFixture.Fat32)]
    public void A_subdirectory_pointing_back_at_its_ancestor_is_refused(string name)
    {
        var (image, source) = Patchable(name);
        var keys = FirstCluster(source, FindSlot(image, "KEYS       "));
        SetFirstCluster(source, FindSlot(image, "DEEPER     "), keys);

        var error = Assert.Throws<FatFormatException>(() => FatVolume.Open(source).EnumerateEntries());
        Assert.Contains($"directory \"Keys/Deep/Deeper\" reaches cluster {keys} a second time", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fat32_subdirectory_pointing_at_the_root_is_refused()
    {
        var (image, source) = Patchable(FatImageFixture.Fat32);
        SetFirstCluster(source, FindSlot(image, "DEEP       "), image.Layout.RootCluster);

        var error = Assert.Throws<FatFormatException>(() => FatVolume.Open(source).EnumerateEntries());
        Assert.Contains("a second time", error.Message, StringComparison.Ordinal);
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
    public void A_boot_sector_claiming_more_than_the_device_holds_is_refused()
    {
        var source = new PatchedBlockSource(Fat32BootSector(totalSectors: uint.MaxValue, fatSectors: 0x0100_0000), length: 64 * 1024 * 1024);

        var error = Assert.Throws<FatFormatException>(() => FatVolume.Open(source));
        Assert.Contains("claims 2199023255040 bytes but the device holds only 67108864", error.Message, StringComparison.Ordinal);
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

    [Fact]
    public void A_truncated_image_is_refused()
    {
        var image = images[FatImageFixture.Fat16];
        var source = new PatchedBlockSource(image.Bytes, length: image.Bytes.Length / 2);

        var error = Assert.Throws<FatFormatException>(() => FatVolume.Open(source));
        Assert.Contains("truncated image", error.Message, StringComparison.Ordinal);
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

    [Fact]
    public void A_control_character_in_a_short_name_is_refused()
    {
        var (image, source) = Patchable(FatImageFixture.Fat12);
        source[FindSlot(image, "UPPER   KEY") + 2] = 0x07;

        var error = Assert.Throws<FatFormatException>(() => FatVolume.Open(source).EnumerateEntries());
        Assert.Contains("the root directory: 8.3 name contains a control or reserved character", error.Message, StringComparison.Ordinal);
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
