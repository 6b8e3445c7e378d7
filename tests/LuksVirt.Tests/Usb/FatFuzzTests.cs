using LuksVirt.Core.Usb;
using Xunit.Abstractions;

namespace LuksVirt.Tests.Usb;

/// <summary>
/// Seeded, reproducible corruption of the real images: flipped bytes in the boot sector, the FAT,
/// the directories and the partition table, cluster loops, truncated and "pulled" devices. Every
/// image must end in success (damaged parts skipped and reported) or
/// <see cref="FatFormatException"/>, within a time and an allocation bound, read the way a key
/// stick is (<see cref="FatStick"/>). A failure names the image and seed; <see cref="Mutate"/>
/// rebuilds that exact image.
/// </summary>
[Collection(FatImageGroup.Name)]
public sealed class FatFuzzTests(FatImageFixture images, ITestOutputHelper output)
{
    // 6 image kinds x 2,000 = 12,000 corrupted images per run.
    private const int ImagesPerKind = 2_000;
    private const long AllocationBound = 4L * 1024 * 1024;

    /// <summary>The reader's own budget for one stick (listing and every file read), plus the
    /// partition table and boot sector it reads before its budget starts. Bounded work is
    /// asserted as bytes read, not as time: a loop in a damaged image shows as bytes.</summary>
    private static readonly long ReadBound = FatReaderLimits.Default.MaxBytesRead + (64 * 1024);

    [Theory]
    [InlineData(FatImageFixture.Fat12, 1_000_000)]
    [InlineData(FatImageFixture.Fat12FourKSectors, 2_000_000)]
    [InlineData(FatImageFixture.Fat16, 3_000_000)]
    [InlineData(FatImageFixture.Fat32, 4_000_000)]
    [InlineData(FatImageFixture.MbrFat16, 5_000_000)]
    [InlineData(FatImageFixture.GptFat16, 6_000_000)]
    public void Corrupted_images_end_in_success_or_a_format_error(string name, int firstSeed)
    {
        var image = images[name];
        var failures = new List<string>();
        var outcome = new Outcome();
        long mostRead = 0;
        long mostAllocated = 0;

        for (var seed = firstSeed; seed < firstSeed + ImagesPerKind; seed++)
        {
            var source = Mutate(image, seed);
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                Exercise(source, outcome);
            }
            catch (FatFormatException)
            {
                outcome.Refused++;
            }
#pragma warning disable CA1031 // The point of the test: any other exception is a finding, reported with its seed.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                failures.Add($"{name} seed {seed}: {exception.GetType().Name}: {exception.Message}");
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            mostRead = Math.Max(mostRead, source.BytesRead);
            mostAllocated = Math.Max(mostAllocated, allocated);
            if (source.BytesRead > ReadBound)
            {
                failures.Add($"{name} seed {seed}: read {source.BytesRead} bytes, more than the reader's budget");
            }

            if (allocated > AllocationBound)
            {
                failures.Add($"{name} seed {seed}: allocated {allocated} bytes");
            }
        }

        output.WriteLine($"{name}: {ImagesPerKind} images; refused at open or listing {outcome.Refused}, listed {outcome.Listed} ({outcome.ListedWithSkips} with parts skipped), files read {outcome.FilesRead}, file reads refused {outcome.FilesRefused}; most read {mostRead / 1024} KiB, most allocated {mostAllocated / 1024} KiB");
        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n{string.Join('\n', failures.Take(20))}");
        // A fuzzer that never gets past the boot sector, or never breaks anything, proves little.
        // Since issue 10 damage to a directory is skipped rather than refused: it counts as broken.
        Assert.InRange(outcome.Listed, ImagesPerKind / 10, ImagesPerKind);
        Assert.InRange(outcome.Refused + outcome.ListedWithSkips, ImagesPerKind / 10, ImagesPerKind);
        Assert.True(outcome.FilesRead > ImagesPerKind, $"only {outcome.FilesRead} files read");
        Assert.True(outcome.FilesRefused > 0, "no file read was refused");
    }

    /// <summary>The corrupted variant of <paramref name="image"/> for <paramref name="seed"/>.</summary>
    public static PatchedBlockSource Mutate(FatTestImage image, int seed)
    {
        var random = new Random(seed);
        var layout = image.Layout;
        var source = new PatchedBlockSource(image.Bytes);
        // Where the metadata of these small, freshly written images lives: the FAT's first
        // sectors, the fixed root directory, and the first clusters (subdirectories, small files).
        var fatSpan = (int)Math.Min(layout.FatLength, 2 * layout.BytesPerSector);
        var dataSpan = (int)Math.Min(image.Bytes.Length - layout.DataOffset, 64L * layout.ClusterSize);
        var usedEnd = layout.DataOffset + dataSpan;

        var mutations = random.Next(1, 4);
        for (var i = 0; i < mutations; i++)
        {
            var kind = random.Next(100);
            switch (kind)
            {
                case < 25:
                    Flip(source, random, layout.VolumeOffset + random.Next(kind < 15 ? 64 : 512));
                    break;
                case < 45:
                    Flip(source, random, layout.FatOffset + random.Next(fatSpan));
                    break;
                case < 60 when layout.Type != FatType.Fat32:
                    Flip(source, random, layout.RootDirectoryOffset + random.Next(Math.Min(layout.RootEntries * 32, 2048)));
                    break;
                case < 75:
                    Flip(source, random, layout.DataOffset + random.Next(dataSpan));
                    break;
                case < 87:
                {
                    // A link back to an earlier (or the same) cluster: a loop, if the chain passes there.
                    var cluster = (uint)random.Next(2, 60);
                    var target = (uint)random.Next(2, (int)cluster + 1);
                    layout.WriteFatEntry(at => source[at], (at, b) => source[at] = b, cluster, target);
                    break;
                }

                case < 92:
                    source.Length = random.NextInt64(0, usedEnd);
                    break;
                case < 96:
                    source.ReadableLength = random.NextInt64(0, usedEnd);
                    break;
                default:
                    // The partition table (a GPT's header and first entries too), or for a
                    // superfloppy the boot code where it would be.
                    Flip(source, random, 446 + random.Next(image.Name == FatImageFixture.GptFat16 ? 1024 + 256 - 446 : 66));
                    break;
            }
        }

        return source;
    }

    private static void Exercise(PatchedBlockSource source, Outcome outcome)
    {
        var stick = FatStick.Open(source);
        var files = stick.EnumerateFiles(FatReaderLimits.Default.MaxDirectoryDepth);
        outcome.Listed++;
        if (stick.Skipped.Count > 0)
        {
            outcome.ListedWithSkips++;
        }

        foreach (var file in files)
        {
            try
            {
                using var content = stick.ReadFile(file);
                outcome.FilesRead++;
            }
            catch (FatFormatException)
            {
                outcome.FilesRefused++;
            }
        }
    }

    private static void Flip(PatchedBlockSource source, Random random, long offset)
    {
        if (random.Next(2) == 0)
        {
            source[offset] ^= (byte)(1 << random.Next(8));
        }
        else
        {
            source[offset] = (byte)random.Next(256);
        }
    }

    private sealed class Outcome
    {
        public int Refused { get; set; }

        public int Listed { get; set; }

        public int ListedWithSkips { get; set; }

        public int FilesRead { get; set; }

        public int FilesRefused { get; set; }
    }
}
