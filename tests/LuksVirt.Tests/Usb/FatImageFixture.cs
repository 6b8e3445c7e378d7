using System.Text;
using LuksVirt.Core.Usb;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Usb;

/// <summary>A FAT image made by the real tools (mkfs.vfat, sfdisk, mtools), with what was put
/// on it and what mtools lists on it (mdir -/ -b -a: recursive, bare, hidden files too).</summary>
public sealed record FatTestImage(
    string Name,
    byte[] Bytes,
    FatLayout Layout,
    IReadOnlyDictionary<string, byte[]> Files,
    IReadOnlyList<string> MdirListing)
{
    public FatType Type => Layout.Type;

    public override string ToString() => Name;
}

/// <summary>
/// Builds the FAT images once for all FAT test classes: superfloppy FAT12 (2 KiB clusters),
/// FAT12 with 4 KiB sectors, FAT16, FAT32, FAT16 inside an MBR partition at 1 MiB, FAT16 inside
/// a GPT basic data partition at 1 MiB, and a FAT12 with directories nested deeper than the
/// default limit. Key content reaches mcopy through
/// standard input, never through a file.
/// </summary>
public sealed class FatImageFixture : IDisposable
{
    public const string Fat12 = "fat12";
    public const string Fat12FourKSectors = "fat12-4k-sectors";
    public const string Fat16 = "fat16";
    public const string Fat32 = "fat32";
    public const string MbrFat16 = "mbr-fat16";
    public const string GptFat16 = "gpt-fat16";
    public const string Deep = "deep";

    public const int DeepLevels = 10;
    public const int FillerFiles = 40;

    private static readonly Dictionary<string, string> MtoolsEnvironment = new()
    {
        ["MTOOLS_SKIP_CHECK"] = "1",
        ["LANG"] = "C.UTF-8",
        ["LC_ALL"] = "C.UTF-8",
    };

    private readonly TempDirectory _directory = new("fat");
    private readonly Dictionary<string, FatTestImage> _images = [];

    public FatImageFixture()
    {
        Add(BuildStandard(Fat12, FatType.Fat12, ["-F", "12"], 256, table: null));
        Add(BuildStandard(Fat12FourKSectors, FatType.Fat12, ["-F", "12", "-S", "4096", "-s", "1"], 1024, table: null));
        Add(BuildStandard(Fat16, FatType.Fat16, ["-F", "16", "-s", "1"], 2600, table: null));
        Add(BuildStandard(Fat32, FatType.Fat32, ["-F", "32", "-s", "1"], 33792, table: null));
        Add(BuildStandard(MbrFat16, FatType.Fat16, ["-F", "16", "-s", "1"], 3072, table: "label: dos\nstart=2048, size=6144, type=e\n"));
        Add(BuildStandard(GptFat16, FatType.Fat16, ["-F", "16", "-s", "1"], 3072, table: "label: gpt\nstart=2048, size=6144, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n"));
        Add(BuildDeep());
    }

    public static IEnumerable<string> StandardImageNames => [Fat12, Fat12FourKSectors, Fat16, Fat32, MbrFat16, GptFat16];

    public FatTestImage this[string name] => _images[name];

    /// <summary>Runs an mtools command with the environment the images need.</summary>
    public static ToolResult Mtools(string tool, IEnumerable<string> arguments, ReadOnlySpan<byte> standardInput = default) =>
        ToolRunner.Run(tool, arguments, standardInput, environment: MtoolsEnvironment);

    public void Dispose() => _directory.Dispose();

    private void Add(FatTestImage image) => _images.Add(image.Name, image);

    /// <param name="table">An sfdisk script putting the volume at sector 2048, or null for a superfloppy.</param>
    private FatTestImage BuildStandard(string name, FatType type, string[] mkfsOptions, int sizeKiB, string? table)
    {
        var path = _directory.PathOf(name + ".img");
        long volumeOffset = 0;
        if (table is not null)
        {
            // 1 MiB before the partition, as partitioning tools align it; 1 MiB after for a GPT's backup.
            volumeOffset = 1024 * 1024;
            using (var file = File.Create(path))
            {
                file.SetLength((2 * volumeOffset) + (sizeKiB * 1024L));
            }

            ToolRunner.Run("sfdisk", ["-q", path], Encoding.ASCII.GetBytes(table)).EnsureSuccess("sfdisk");
            ToolRunner.Run("mkfs.vfat", [.. mkfsOptions, "--offset", "2048", path, sizeKiB.ToString(System.Globalization.CultureInfo.InvariantCulture)]).EnsureSuccess("mkfs.vfat");
        }
        else
        {
            ToolRunner.Run("mkfs.vfat", ["-C", .. mkfsOptions, path, sizeKiB.ToString(System.Globalization.CultureInfo.InvariantCulture)]).EnsureSuccess("mkfs.vfat");
        }

        var target = table is not null ? path + "@@1M" : path;
        var layout = FatLayout.Read(File.ReadAllBytes(path), volumeOffset, type);
        var random = new Random(name.Length * 7919);
        var files = new Dictionary<string, byte[]>
        {
            ["luks-alice.1.key"] = [.. PrintableKey(random, 64), (byte)'\n'],
            ["luks-bob.7.key"] = Shuffled(random, [.. Enumerable.Range(0, 256).Select(i => (byte)i)]),
            ["short.key"] = "abc\n"u8.ToArray(),
            ["UPPER.KEY"] = PrintableKey(random, 32),
            ["hidden.key"] = PrintableKey(random, 40),
            ["Keys/MixedCase-LongName.Key"] = RandomBytes(random, 100),
            ["Keys/empty.key"] = [],
            ["Keys/clé-ünïcode.key"] = "unicode\n"u8.ToArray(),
            ["Keys/Deep/exact-clusters.bin"] = RandomBytes(random, 3 * layout.ClusterSize),
            ["Keys/Deep/partial-clusters.bin"] = RandomBytes(random, (2 * layout.ClusterSize) + (layout.ClusterSize / 2) + 1),
            ["Keys/Deep/Deeper/nested key with spaces.key"] = PrintableKey(random, 64),
        };
        for (var i = 0; i < FillerFiles; i++)
        {
            files[$"many/filler-{i:D2}-with-a-long-name.txt"] = Encoding.ASCII.GetBytes($"filler {i}\n");
        }

        Mtools("mmd", ["-i", target, "::/Keys", "::/Keys/Deep", "::/Keys/Deep/Deeper", "::/many"]).EnsureSuccess("mmd");
        foreach (var (filePath, content) in files)
        {
            Mtools("mcopy", ["-i", target, "-", "::/" + filePath], content).EnsureSuccess("mcopy " + filePath);
        }

        Mtools("mattrib", ["-i", target, "+h", "+r", "::/hidden.key"]).EnsureSuccess("mattrib");
        return new FatTestImage(name, File.ReadAllBytes(path), layout, files, ListWithMdir(target));
    }

    private FatTestImage BuildDeep()
    {
        var path = _directory.PathOf(Deep + ".img");
        ToolRunner.Run("mkfs.vfat", ["-C", "-F", "12", path, "128"]).EnsureSuccess("mkfs.vfat");
        var directories = Enumerable.Range(1, DeepLevels).Select(level => "::/" + string.Join('/', Enumerable.Range(1, level).Select(i => $"level{i}")));
        Mtools("mmd", ["-i", path, .. directories]).EnsureSuccess("mmd");
        var bottom = string.Join('/', Enumerable.Range(1, DeepLevels).Select(i => $"level{i}")) + "/bottom.key";
        var files = new Dictionary<string, byte[]> { [bottom] = "bottom\n"u8.ToArray() };
        Mtools("mcopy", ["-i", path, "-", "::/" + bottom], files[bottom]).EnsureSuccess("mcopy");
        var bytes = File.ReadAllBytes(path);
        return new FatTestImage(Deep, bytes, FatLayout.Read(bytes, 0, FatType.Fat12), files, ListWithMdir(path));
    }

    private static string[] ListWithMdir(string target) =>
        Mtools("mdir", ["-/", "-b", "-a", "-i", target]).EnsureSuccess("mdir").StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static byte[] PrintableKey(Random random, int length)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        return [.. Enumerable.Range(0, length).Select(_ => (byte)Alphabet[random.Next(Alphabet.Length)])];
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Shuffled(Random random, byte[] bytes)
    {
        random.Shuffle(bytes);
        return bytes;
    }
}

[CollectionDefinition(Name)]
public sealed class FatImageGroup : ICollectionFixture<FatImageFixture>
{
    public const string Name = "FAT images";
}
