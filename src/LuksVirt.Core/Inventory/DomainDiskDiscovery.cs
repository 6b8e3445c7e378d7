using System.Xml;
using System.Xml.Linq;

namespace LuksVirt.Core.Inventory;

/// <summary>A domain as libvirt describes it; <paramref name="InactiveXml"/> is the persistent definition.</summary>
internal sealed record DomainDescription(string Name, Guid Uuid, string InactiveXml);

/// <summary>The native encrypted disks of one domain, the paths of all its disks, and what was skipped and why.</summary>
/// <param name="DiskSources">Source path (file or device) of every disk of the domain, encrypted or not.</param>
internal sealed record DomainDiskDiscoveryResult(IReadOnlyList<EncryptedDisk> Disks, IReadOnlyList<string> DiskSources, IReadOnlyList<string> Warnings);

/// <summary>
/// Finds the disks of a domain that QEMU decrypts itself: every file or block disk carrying
/// <c>&lt;encryption format='luks'&gt;</c> with a passphrase secret named by UUID, placed under
/// <c>&lt;disk&gt;</c> (classic) or under <c>&lt;disk&gt;&lt;source&gt;</c> (newer libvirt).
/// </summary>
internal static class DomainDiskDiscovery
{
    private static readonly XName DevicesElement = "devices";
    private static readonly XName DiskElement = "disk";
    private static readonly XName SourceElement = "source";
    private static readonly XName TargetElement = "target";
    private static readonly XName DriverElement = "driver";
    private static readonly XName EncryptionElement = "encryption";
    private static readonly XName SecretElement = "secret";

    public static string LocationOf(string domainName) => $"libvirt domain {domainName}";

    public static DomainDiskDiscoveryResult FindEncryptedDisks(string domainName, string domainXml)
    {
        ArgumentException.ThrowIfNullOrEmpty(domainName);
        ArgumentNullException.ThrowIfNull(domainXml);
        var location = LocationOf(domainName);
        XDocument document;
        try
        {
            document = XDocument.Parse(domainXml);
        }
        catch (XmlException e)
        {
            // libvirt never produces this; say so rather than guess at the disks.
            return new([], [], [$"{location}: domain XML is not well-formed ({e.Message}); its disks were not examined"]);
        }

        var disks = new List<EncryptedDisk>();
        var sources = new List<string>();
        var warnings = new List<string>();
        var devices = document.Root?.Element(DevicesElement);
        foreach (var disk in devices?.Elements(DiskElement) ?? [])
        {
            var source = disk.Element(SourceElement);
            var type = (string?)disk.Attribute("type");
            var path = type switch
            {
                "file" => (string?)source?.Attribute("file"),
                "block" => (string?)source?.Attribute("dev"),
                _ => null,
            };
            var targetDev = (string?)disk.Element(TargetElement)?.Attribute("dev");
            if (!string.IsNullOrEmpty(path))
            {
                sources.Add(path);
            }

            var encryption = FindLuksEncryption(disk, source);
            if (encryption is null)
            {
                continue;
            }

            var what = $"{location}: disk {targetDev ?? "(no target dev)"}";
            if (string.IsNullOrEmpty(path))
            {
                warnings.Add($"{what}: LUKS encryption on a disk of type '{type}' without a local file or device source is not supported; disk ignored");
                continue;
            }

            var driverType = (string?)disk.Element(DriverElement)?.Attribute("type");
            if (driverType is not null and not "raw")
            {
                // qcow2 with format='luks' is qcow2's built-in encryption, not a LUKS container.
                warnings.Add($"{what}: '{path}' uses driver type '{driverType}' with LUKS encryption inside the image format; only raw LUKS containers are managed; disk ignored");
                continue;
            }

            if (string.IsNullOrEmpty(targetDev))
            {
                warnings.Add($"{what}: '{path}' has no <target dev=...>; disk ignored");
                continue;
            }

            var secretUuid = FindPassphraseSecretUuid(encryption);
            if (secretUuid is null)
            {
                warnings.Add($"{what}: '{path}' has <encryption format='luks'> without <secret type='passphrase' uuid='...'/>; name the libvirt secret by UUID in the domain XML; disk ignored");
                continue;
            }

            disks.Add(EncryptedDisk.CreateNative(path, secretUuid.Value, targetDev, location));
        }

        return new(disks, sources, warnings);
    }

    private static XElement? FindLuksEncryption(XElement disk, XElement? source)
    {
        var candidates = disk.Elements(EncryptionElement);
        if (source is not null)
        {
            candidates = candidates.Concat(source.Elements(EncryptionElement));
        }

        return candidates.FirstOrDefault(e => (string?)e.Attribute("format") == "luks");
    }

    private static Guid? FindPassphraseSecretUuid(XElement encryption)
    {
        foreach (var secret in encryption.Elements(SecretElement))
        {
            if ((string?)secret.Attribute("type") == "passphrase"
                && Guid.TryParseExact((string?)secret.Attribute("uuid"), "D", out var uuid))
            {
                return uuid;
            }
        }

        return null;
    }
}
