using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Usb;

/// <summary>
/// A key stick as an image file, made by the real tools: mkfs.vfat (superfloppy, or inside an
/// MBR partition written by sfdisk) and mtools. File content, keys included, reaches mcopy
/// through standard input only.
/// </summary>
public sealed class KeyStickImage
{
    private readonly string _target;
    private readonly HashSet<string> _directories = new(StringComparer.OrdinalIgnoreCase);

    /// <param name="path">The image file to create.</param>
    /// <param name="sizeKiB">Size of the FAT volume.</param>
    /// <param name="fatBits">12, 16 or 32.</param>
    /// <param name="mbr">Put the volume in partition 1 of an MBR at 1 MiB, as partitioning tools do.</param>
    public KeyStickImage(string path, int sizeKiB = 1024, int fatBits = 12, bool mbr = false)
    {
        Path = path;
        var size = sizeKiB.ToString(CultureInfo.InvariantCulture);
        // One sector per cluster: FAT16 and FAT32 then fit small images, as in FatImageFixture.
        string[] format = fatBits == 12 ? ["-F", "12"] : ["-F", fatBits.ToString(CultureInfo.InvariantCulture), "-s", "1"];
        if (mbr)
        {
            using (var file = File.Create(path))
            {
                file.SetLength((1024 * 1024) + (sizeKiB * 1024L));
            }

            var table = string.Create(CultureInfo.InvariantCulture, $"start=2048, size={sizeKiB * 2}, type=e\n");
            ToolRunner.Run("sfdisk", ["-q", path], Encoding.ASCII.GetBytes(table)).EnsureSuccess("sfdisk");
            ToolRunner.Run("mkfs.vfat", [.. format, "--offset", "2048", path, size]).EnsureSuccess("mkfs.vfat");
            _target = path + "@@1M";
        }
        else
        {
            ToolRunner.Run("mkfs.vfat", ["-C", .. format, path, size]).EnsureSuccess("mkfs.vfat");
            _target = path;
        }
    }

    private KeyStickImage(string path, string target)
    {
        Path = path;
        _target = target;
    }

    public string Path { get; }

    /// <summary>Writes a partition table with sfdisk (its script on standard input) into a new
    /// image of <paramref name="sizeMiB"/> MiB.</summary>
    public static void Partition(string path, int sizeMiB, string sfdiskScript)
    {
        using (var file = File.Create(path))
        {
            file.SetLength(sizeMiB * 1024L * 1024);
        }

        ToolRunner.Run("sfdisk", ["-q", path], Encoding.ASCII.GetBytes(sfdiskScript)).EnsureSuccess("sfdisk");
    }

    /// <summary>Formats the partition at <paramref name="startSector"/> of an image that
    /// <see cref="Partition"/> (or sfdisk on a loop device) made, with mkfs.vfat --offset, and
    /// returns the stick to fill through mtools at that byte offset.</summary>
    public static KeyStickImage FormatPartition(string path, long startSector, int sizeKiB, int fatBits = 12, int sectorSize = 512)
    {
        string[] format = fatBits == 12 ? ["-F", "12"] : ["-F", fatBits.ToString(CultureInfo.InvariantCulture), "-s", "1"];
        string[] sectors = sectorSize == 512 ? [] : ["-S", sectorSize.ToString(CultureInfo.InvariantCulture), "-s", "1"];
        var offset = startSector.ToString(CultureInfo.InvariantCulture);
        ToolRunner.Run("mkfs.vfat", [.. format, .. sectors, "--offset", offset, path, sizeKiB.ToString(CultureInfo.InvariantCulture)]).EnsureSuccess("mkfs.vfat");
        return new KeyStickImage(path, string.Create(CultureInfo.InvariantCulture, $"{path}@@{startSector * sectorSize}"));
    }

    /// <summary>Copies <paramref name="content"/> to <paramref name="pathOnStick"/> ('/'-separated),
    /// creating its directories first.</summary>
    public KeyStickImage Add(string pathOnStick, ReadOnlySpan<byte> content)
    {
        var slash = pathOnStick.LastIndexOf('/');
        if (slash > 0)
        {
            MakeDirectories(pathOnStick[..slash]);
        }

        FatImageFixture.Mtools("mcopy", ["-i", _target, "-", "::/" + pathOnStick], content).EnsureSuccess("mcopy " + pathOnStick);
        return this;
    }

    /// <summary>Copies host files (no secrets in them) into one directory of the stick at once.</summary>
    public KeyStickImage AddHostFiles(string directoryOnStick, IEnumerable<string> hostFiles)
    {
        MakeDirectories(directoryOnStick);
        FatImageFixture.Mtools("mcopy", ["-i", _target, .. hostFiles, "::/" + directoryOnStick + "/"]).EnsureSuccess("mcopy");
        return this;
    }

    public byte[] Sha256()
    {
        using var file = File.OpenRead(Path);
        return SHA256.HashData(file);
    }

    private void MakeDirectories(string directory)
    {
        var parts = directory.Split('/');
        for (var i = 1; i <= parts.Length; i++)
        {
            var partial = string.Join('/', parts[..i]);
            if (_directories.Add(partial))
            {
                FatImageFixture.Mtools("mmd", ["-i", _target, "::/" + partial]).EnsureSuccess("mmd " + partial);
            }
        }
    }
}
