using System.Xml.Linq;
using LuksVirt.Core.Inventory;

namespace LuksVirt.Core.Migration;

/// <summary>A disk of a guest that holds plaintext: its target, source and image format.</summary>
/// <param name="Format">The driver type: "raw" is copied as it is; anything else (qcow2...) is
/// flattened to raw by qemu-img first.</param>
internal sealed record PlaintextDisk(string TargetDev, string SourcePath, bool IsBlockDevice, string Format)
{
    public bool IsRaw => Format == "raw";
}

/// <summary>The disks of a domain split into those to encrypt and those left alone (with why).</summary>
internal sealed record PlaintextDiskSurvey(IReadOnlyList<PlaintextDisk> Plaintext, IReadOnlyList<string> AlreadyEncrypted, IReadOnlyList<string> LeftAlone);

/// <summary>
/// Finds which disks of a domain's persistent XML still hold plaintext: local file or block
/// disks (device='disk') without <c>&lt;encryption&gt;</c> whose source is not a dmcrypt link
/// from the configuration file. CD-ROMs and floppies are left alone; network disks are left
/// alone with a warning, since LuksVirt cannot encrypt them.
/// </summary>
internal static class PlaintextDiskFinder
{
    public static PlaintextDiskSurvey Survey(string domainXml, InventoryConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var root = XDocument.Parse(domainXml).Root!;
        var linkTargets = config.Guests.SelectMany(g => g.Disks).Select(d => d.Target).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var plaintext = new List<PlaintextDisk>();
        var encrypted = new List<string>();
        var leftAlone = new List<string>();
        foreach (var disk in root.Element("devices")?.Elements("disk") ?? [])
        {
            var targetDev = (string?)disk.Element("target")?.Attribute("dev") ?? "(no target)";
            var device = (string?)disk.Attribute("device") ?? "disk";
            var type = (string?)disk.Attribute("type");
            var source = disk.Element("source");
            var path = type switch
            {
                "file" => (string?)source?.Attribute("file"),
                "block" => (string?)source?.Attribute("dev"),
                _ => null,
            };
            if (device != "disk")
            {
                leftAlone.Add($"{targetDev}: a {device}, not a disk");
                continue;
            }

            if (disk.Element("encryption") is not null || source?.Element("encryption") is not null)
            {
                encrypted.Add($"{targetDev}: {path ?? "(no local source)"} is already encrypted");
                continue;
            }

            if (path is null)
            {
                leftAlone.Add($"{targetDev}: a disk of type '{type}' without a local file or device; LuksVirt cannot encrypt it and it stays PLAINTEXT");
                continue;
            }

            if (linkTargets.Contains(path))
            {
                encrypted.Add($"{targetDev}: {path} is a dmcrypt link from the configuration file");
                continue;
            }

            if (targetDev == "(no target)")
            {
                leftAlone.Add($"{path}: a disk without <target dev=...>; it stays PLAINTEXT");
                continue;
            }

            var format = (string?)disk.Element("driver")?.Attribute("type") ?? "raw";
            plaintext.Add(new PlaintextDisk(targetDev, path, type == "block", format));
        }

        return new PlaintextDiskSurvey(plaintext, encrypted, leftAlone);
    }
}
