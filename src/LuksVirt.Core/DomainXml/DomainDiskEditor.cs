using System.Xml.Linq;
using System.Xml;
using LuksVirt.Core.Inventory;

namespace LuksVirt.Core.DomainXml;

/// <summary>
/// A LUKS disk as the domain XML will name it. Native: the container itself, with
/// <c>&lt;encryption format='luks'&gt;</c> naming the libvirt secret QEMU reads the key from.
/// DmCrypt: the link path (a block device once unlocked), no encryption element.
/// </summary>
internal sealed record EncryptedDomainDisk(DiskBackend Backend, string SourcePath, bool IsBlockDevice, Guid? SecretUuid);

/// <summary>
/// Edits a domain's persistent XML for LuksVirt's disks: adds or switches a disk, marks the
/// title as the classic recipe did, and writes the minimal domain of <c>create --define-domain</c>.
/// Pure XML work; libvirt validates the result when it is defined.
/// </summary>
internal static class DomainDiskEditor
{
    /// <summary>Appended to the title of every guest with an encrypted disk (the classic recipe
    /// wrote "[encrypted volume, manual running]"; LuksVirt starts such guests itself).</summary>
    public const string TitleMarker = "[encrypted volume, started by luksvirt]";

    /// <summary>The bus and device prefix of new disks: virtio, vda, vdb...</summary>
    public const string Bus = "virtio";
    public const string DevicePrefix = "vd";

    /// <summary>Adds <paramref name="disk"/> at the next free virtio target and marks the title.
    /// Returns the new XML and the target device chosen.</summary>
    public static (string Xml, string TargetDev) AddDisk(string domainXml, EncryptedDomainDisk disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        var document = Parse(domainXml);
        var root = document.Root!;
        var devices = root.Element("devices");
        if (devices is null)
        {
            devices = new XElement("devices");
            root.Add(devices);
        }

        var targetDev = NextFreeTargetDev(root);
        devices.Add(BuildDisk(disk, targetDev));
        MarkTitle(root);
        return (document.ToString(), targetDev);
    }

    /// <summary>Points the disk at <paramref name="targetDev"/> to <paramref name="disk"/>: its
    /// type, driver (raw, other driver settings kept), source and encryption change; target,
    /// address, boot order and the rest stay. A backing chain (qcow2) is dropped: the new disk
    /// is a flat raw payload.</summary>
    public static void SwitchDisk(XElement domain, string targetDev, EncryptedDomainDisk disk)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(disk);
        var element = domain.Element("devices")?.Elements("disk")
            .SingleOrDefault(d => (string?)d.Element("target")?.Attribute("dev") == targetDev)
            ?? throw new InvalidOperationException($"the domain has no disk with target {targetDev}");
        element.SetAttributeValue("type", disk.IsBlockDevice ? "block" : "file");
        var driver = element.Element("driver");
        if (driver is null)
        {
            driver = new XElement("driver", new XAttribute("name", "qemu"));
            element.AddFirst(driver);
        }

        driver.SetAttributeValue("type", "raw");
        element.Elements("backingStore").Remove();
        element.Elements("encryption").Remove();
        var source = Source(disk);
        if (element.Element("source") is { } oldSource)
        {
            oldSource.ReplaceWith(source);
        }
        else
        {
            driver.AddAfterSelf(source);
        }

        if (Encryption(disk) is { } encryption)
        {
            element.Element("target")!.AddAfterSelf(encryption);
        }
    }

    /// <summary>Appends <see cref="TitleMarker"/> to the title (the domain name when it has none),
    /// unless the title already says it is an encrypted volume.</summary>
    public static void MarkTitle(XElement domain)
    {
        ArgumentNullException.ThrowIfNull(domain);
        var title = domain.Element("title");
        if (title is null)
        {
            title = new XElement("title", $"{(string?)domain.Element("name")} {TitleMarker}");
            var anchor = domain.Element("uuid") ?? domain.Element("name");
            if (anchor is null)
            {
                domain.AddFirst(title);
            }
            else
            {
                anchor.AddAfterSelf(title);
            }

            return;
        }

        if (!title.Value.Contains("[encrypted volume", StringComparison.Ordinal))
        {
            title.Value = $"{title.Value} {TitleMarker}";
        }
    }

    /// <summary>
    /// A minimal persistent domain around one disk for <c>create --define-domain</c>: x86_64 hvm,
    /// 1 GiB, 1 vCPU, ACPI, boot from the disk, serial console, no network (add what the guest
    /// needs with <c>virsh edit</c>). <paramref name="domainType"/> is "kvm" or "qemu" (TCG).
    /// </summary>
    public static (string Xml, string TargetDev) MinimalDomain(string name, string domainType, EncryptedDomainDisk disk)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(disk);
        var targetDev = DevicePrefix + "a";
        var domain = new XElement(
            "domain",
            new XAttribute("type", domainType),
            new XElement("name", name),
            new XElement("title", $"{name} {TitleMarker}"),
            new XElement("memory", new XAttribute("unit", "MiB"), 1024),
            new XElement("vcpu", 1),
            new XElement("os", new XElement("type", new XAttribute("arch", "x86_64"), "hvm"), new XElement("boot", new XAttribute("dev", "hd"))),
            new XElement("features", new XElement("acpi"), new XElement("apic")),
            new XElement(
                "devices",
                BuildDisk(disk, targetDev),
                new XElement("serial", new XAttribute("type", "pty")),
                new XElement("console", new XAttribute("type", "pty"))));
        return (domain.ToString(), targetDev);
    }

    /// <summary>Every disk source path (file or device) of a domain, for "is it in use" checks.</summary>
    public static IReadOnlyList<string> DiskSources(string domainName, string domainXml) =>
        DomainDiskDiscovery.FindEncryptedDisks(domainName, domainXml).DiskSources;

    public static XDocument Parse(string domainXml)
    {
        ArgumentNullException.ThrowIfNull(domainXml);
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null };
        using var reader = XmlReader.Create(new StringReader(domainXml), settings);
        var document = XDocument.Load(reader);
        return document.Root?.Name == "domain" ? document : throw new FormatException("not a libvirt domain XML document");
    }

    /// <summary>The first vdX (vda..vdz, vdaa...) that no disk of the domain uses as target.</summary>
    internal static string NextFreeTargetDev(XElement domain)
    {
        var used = domain.Element("devices")?.Elements("disk")
            .Select(d => (string?)d.Element("target")?.Attribute("dev"))
            .Where(d => d is not null)
            .ToHashSet(StringComparer.Ordinal) ?? [];
        for (var index = 0; ; index++)
        {
            var candidate = DevicePrefix + DriveLetters(index);
            if (!used.Contains(candidate))
            {
                return candidate;
            }
        }
    }

    // 0 -> a, 25 -> z, 26 -> aa: the kernel's and libvirt's disk naming.
    private static string DriveLetters(int index)
    {
        var letters = string.Empty;
        for (index++; index > 0; index = (index - 1) / 26)
        {
            letters = (char)('a' + ((index - 1) % 26)) + letters;
        }

        return letters;
    }

    private static XElement BuildDisk(EncryptedDomainDisk disk, string targetDev) => new(
        "disk",
        new XAttribute("type", disk.IsBlockDevice ? "block" : "file"),
        new XAttribute("device", "disk"),
        new XElement("driver", new XAttribute("name", "qemu"), new XAttribute("type", "raw")),
        Source(disk),
        new XElement("target", new XAttribute("dev", targetDev), new XAttribute("bus", Bus)),
        Encryption(disk));

    private static XElement Source(EncryptedDomainDisk disk) =>
        new("source", new XAttribute(disk.IsBlockDevice ? "dev" : "file", disk.SourcePath));

    private static XElement? Encryption(EncryptedDomainDisk disk) => disk.Backend == DiskBackend.Native
        ? new XElement(
            "encryption",
            new XAttribute("format", "luks"),
            new XElement(
                "secret",
                new XAttribute("type", "passphrase"),
                new XAttribute("uuid", disk.SecretUuid ?? throw new InvalidOperationException("a native disk needs a secret UUID"))))
        : null;
}
