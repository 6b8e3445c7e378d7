using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using LuksVirt.Core.Logging;

namespace LuksVirt.Core.Inventory;

/// <summary>
/// Validates a loaded configuration document. Stops at the first error (a
/// <see cref="ConfigurationException"/> with the line of the offending element or attribute);
/// unknown attributes and elements only add warnings, so that a newer file still loads. Names and
/// paths are bounded (<see cref="MaxNameBytes"/>, <see cref="MaxPathBytes"/>), and every value a
/// message quotes is cut short (<see cref="EchoText"/>): the file may be hostile.
/// </summary>
internal sealed class InventoryConfigParser
{
    private static readonly XName VmsElement = "vms";
    private static readonly XName VmElement = "vm";
    private static readonly XName LuksElement = "luks";
    private static readonly XName DiskElement = "disk";
    private static readonly XName AllowedImageDirsAttribute = "allowed-image-dirs";
    private static readonly XName NameAttribute = "name";
    private static readonly XName OrderAttribute = "order";
    private static readonly XName SourceAttribute = "source";
    private static readonly XName TargetAttribute = "target";
    private static readonly XName BackendAttribute = "backend";

    /// <summary>A libvirt domain name names files (/etc/libvirt/qemu/NAME.xml): NAME_MAX bytes at most.</summary>
    public const int MaxNameBytes = 255;

    /// <summary>PATH_MAX (4096) counts the terminating NUL: 4095 bytes of path at most.</summary>
    public const int MaxPathBytes = 4095;

    /// <summary>Warnings kept; a file with thousands of unknown elements adds one line saying how many more.</summary>
    public const int MaxWarnings = 20;

    private readonly string _filePath;
    private readonly List<string> _warnings = [];
    private int _warningsLeftOut;

    // Everything that must be unique across the whole file, with the line that claimed it.
    private readonly Dictionary<string, int> _vmNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _sources = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _targets = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _mappingNames = new(StringComparer.Ordinal);

    public InventoryConfigParser(string filePath) => _filePath = filePath;

    public InventoryConfig Parse(XDocument document)
    {
        var root = document.Root ?? throw Error(1, "the file has no root element; write <vms>...</vms>");
        if (root.Name != VmsElement)
        {
            throw Error(root, $"the root element is <{Echo(root.Name)}>, expected <vms> (the classic format: <vms><vm name='...'><luks><disk source='...' target='...'/></luks></vm></vms>)");
        }

        WarnAboutUnknownAttributes(root, AllowedImageDirsAttribute);
        var allowedDirectories = ParseAllowedImageDirectories(root);

        var guests = new List<ConfiguredGuest>();
        foreach (var child in root.Elements())
        {
            if (child.Name == VmElement)
            {
                guests.Add(ParseVm(child, allowedDirectories));
            }
            else
            {
                Warn(child, $"unknown element <{Echo(child.Name)}> inside <vms> ignored");
            }
        }

        if (_warningsLeftOut > 0)
        {
            _warnings.Add(string.Create(CultureInfo.InvariantCulture, $"{_filePath}: {_warningsLeftOut} more warning(s) like these left out"));
        }

        return new InventoryConfig(_filePath, FileExisted: true, guests, allowedDirectories, _warnings);
    }

    private IReadOnlyList<string> ParseAllowedImageDirectories(XElement root)
    {
        var attribute = root.Attribute(AllowedImageDirsAttribute);
        if (attribute is null)
        {
            return InventoryConfig.DefaultAllowedImageDirectories;
        }

        var directories = new List<string>();
        foreach (var entry in attribute.Value.Split(':'))
        {
            if (entry.Length == 0)
            {
                throw Error(attribute, $"allowed-image-dirs='{EchoText.OfPath(attribute.Value)}' has an empty entry; separate absolute directories with single ':'");
            }

            var directory = NormalizeAbsolutePath(attribute, "allowed-image-dirs entry", entry);
            if (!directories.Contains(directory, StringComparer.Ordinal))
            {
                directories.Add(directory);
            }
        }

        return directories;
    }

    private ConfiguredGuest ParseVm(XElement vm, IReadOnlyList<string> allowedDirectories)
    {
        WarnAboutUnknownAttributes(vm, NameAttribute, OrderAttribute);
        var nameAttribute = vm.Attribute(NameAttribute);
        if (nameAttribute is null || string.IsNullOrWhiteSpace(nameAttribute.Value))
        {
            throw Error(vm, "<vm> has no name; add name='DOMAIN' (the libvirt domain name, as 'virsh list --all' shows it)");
        }

        var name = nameAttribute.Value;
        var nameBytes = Encoding.UTF8.GetByteCount(name);
        if (nameBytes > MaxNameBytes)
        {
            throw Error(nameAttribute, string.Create(CultureInfo.InvariantCulture,
                $"<vm name='{EchoText.Of(name)}'> is {nameBytes} bytes long; a libvirt domain name has at most {MaxNameBytes} (it names a file); write the name 'virsh list --all' shows"));
        }

        if (name.Any(char.IsControl))
        {
            throw Error(nameAttribute, $"<vm name='{EchoText.Of(name)}'> contains a control character; write the name 'virsh list --all' shows, on one line");
        }

        if (_vmNames.TryGetValue(name, out var firstLine))
        {
            throw Error(nameAttribute, $"duplicate <vm name='{EchoText.Of(name)}'>, already defined at line {firstLine}; merge the two entries into one");
        }

        _vmNames.Add(name, LineOf(nameAttribute));
        var order = ParseOrder(vm);

        var disks = new List<ConfiguredDisk>();
        foreach (var child in vm.Elements())
        {
            if (child.Name != LuksElement)
            {
                Warn(child, $"unknown element <{Echo(child.Name)}> inside <vm name='{EchoText.Of(name)}'> ignored");
                continue;
            }

            WarnAboutUnknownAttributes(child);
            foreach (var diskOrOther in child.Elements())
            {
                if (diskOrOther.Name == DiskElement)
                {
                    disks.Add(ParseDisk(diskOrOther, allowedDirectories));
                }
                else
                {
                    Warn(diskOrOther, $"unknown element <{Echo(diskOrOther.Name)}> inside <luks> ignored");
                }
            }
        }

        return new ConfiguredGuest(name, order, disks, Location(vm));
    }

    private int? ParseOrder(XElement vm)
    {
        var attribute = vm.Attribute(OrderAttribute);
        if (attribute is null)
        {
            return null;
        }

        // Digits only: no sign, no spaces, no exponent; lower starts first.
        if (!int.TryParse(attribute.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var order))
        {
            throw Error(attribute, $"order='{EchoText.Of(attribute.Value)}' is not a whole number from 0 to {int.MaxValue}; write e.g. order='10' (lower starts first)");
        }

        return order;
    }

    private ConfiguredDisk ParseDisk(XElement disk, IReadOnlyList<string> allowedDirectories)
    {
        WarnAboutUnknownAttributes(disk, SourceAttribute, TargetAttribute, BackendAttribute);
        var backend = ParseBackend(disk);

        var sourceAttribute = disk.Attribute(SourceAttribute)
            ?? throw Error(disk, "<disk> has no source; add source='/path/to/container' (the LUKS container file or block device)");
        var source = NormalizeAbsolutePath(sourceAttribute, "source", sourceAttribute.Value);
        ClaimUnique(sourceAttribute, source, "source");
        RequireContainer(sourceAttribute, source);

        var targetAttribute = disk.Attribute(TargetAttribute);
        if (backend == DiskBackend.Native)
        {
            if (targetAttribute is not null)
            {
                throw Error(targetAttribute, "a native disk has no link target (QEMU opens the container itself); remove target= or use backend='dmcrypt'");
            }

            return new ConfiguredDisk(backend, source, Target: null, Location(disk));
        }

        if (targetAttribute is null)
        {
            throw Error(disk, "<disk> has no target; add target='/var/lib/libvirt/images/NAME' (the path the domain XML uses for this disk)");
        }

        var target = NormalizeAbsolutePath(targetAttribute, "target", targetAttribute.Value);
        RequireInsideAllowedDirectory(targetAttribute, target, allowedDirectories);
        ClaimUnique(targetAttribute, target, "target");

        var mappingName = EncryptedDisk.MappingNameFor(target);
        var mappingProblem = MappingNames.Validate(mappingName);
        if (mappingProblem is not null)
        {
            throw Error(targetAttribute, $"target '{EchoText.OfPath(target)}' gives the mapping name '{EchoText.OfPath(mappingName)}', which is invalid: {mappingProblem}; rename the target file");
        }

        if (_mappingNames.TryGetValue(mappingName, out var otherLine))
        {
            throw Error(targetAttribute, $"target '{EchoText.OfPath(target)}' gives the mapping name '{EchoText.OfPath(mappingName)}', already used by the target at line {otherLine}; give the link files different names");
        }

        _mappingNames.Add(mappingName, LineOf(targetAttribute));
        return new ConfiguredDisk(backend, source, target, Location(disk));
    }

    private DiskBackend ParseBackend(XElement disk)
    {
        var attribute = disk.Attribute(BackendAttribute);
        return attribute?.Value switch
        {
            null => DiskBackend.DmCrypt, // the classic recipe's format knows only dm-crypt
            "dmcrypt" => DiskBackend.DmCrypt,
            "native" => DiskBackend.Native,
            _ => throw Error(attribute, $"backend='{EchoText.Of(attribute.Value)}' is unknown; use backend='dmcrypt' (the default) or backend='native'"),
        };
    }

    /// <summary>A path (source, target or directory) is compared and stored absolute, without '.', '//' or a trailing '/'.</summary>
    private string NormalizeAbsolutePath(XAttribute attribute, string what, string value)
    {
        if (value.Length == 0)
        {
            throw Error(attribute, $"{what} is empty; write an absolute path");
        }

        var bytes = Encoding.UTF8.GetByteCount(value);
        if (bytes > MaxPathBytes)
        {
            throw Error(attribute, string.Create(CultureInfo.InvariantCulture,
                $"{what} '{EchoText.OfPath(value)}' is {bytes} bytes long; a path has at most {MaxPathBytes} (PATH_MAX); write a shorter path"));
        }

        if (value.Any(char.IsControl))
        {
            throw Error(attribute, $"{what} contains a control character; write the path on one line without tabs or newlines");
        }

        if (value[0] != '/')
        {
            throw Error(attribute, $"{what} '{EchoText.OfPath(value)}' is a relative path; write it absolute (starting with '/')");
        }

        var segments = value.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Contains("..", StringComparer.Ordinal))
        {
            throw Error(attribute, $"{what} '{EchoText.OfPath(value)}' contains '..'; write the path without parent-directory references");
        }

        var kept = segments.Where(s => s != ".").ToArray();
        if (kept.Length == 0)
        {
            throw Error(attribute, $"{what} '{EchoText.OfPath(value)}' is the root directory; name a file or directory below it");
        }

        return "/" + string.Join('/', kept);
    }

    private void ClaimUnique(XAttribute attribute, string path, string what)
    {
        if (_sources.TryGetValue(path, out var line))
        {
            throw Error(attribute, $"duplicate disk: {what} '{EchoText.OfPath(path)}' is already a source at line {line}; each container and each link may appear once in the whole file");
        }

        if (_targets.TryGetValue(path, out line))
        {
            throw Error(attribute, $"duplicate disk: {what} '{EchoText.OfPath(path)}' is already a target at line {line}; each container and each link may appear once in the whole file");
        }

        (what == "source" ? _sources : _targets).Add(path, LineOf(attribute));
    }

    private void RequireContainer(XAttribute attribute, string source)
    {
        // An image file or a block device (LVM volume), possibly reached through symlinks.
        if (Directory.Exists(source))
        {
            throw Error(attribute, $"source '{EchoText.OfPath(source)}' is a directory; name the LUKS container file or block device");
        }

        if (!ContainerExists(source))
        {
            throw Error(attribute, $"container '{EchoText.OfPath(source)}' does not exist; create it (luksvirt create) or fix the path");
        }
    }

    private static bool ContainerExists(string path)
    {
        try
        {
            // File.Exists is true for a dangling symlink; what counts is where the link leads.
            var target = File.ResolveLinkTarget(path, returnFinalTarget: true);
            return target is null ? File.Exists(path) : target.Exists;
        }
        catch (IOException)
        {
            return false; // a symlink loop
        }
    }

    private void RequireInsideAllowedDirectory(XAttribute attribute, string target, IReadOnlyList<string> allowedDirectories)
    {
        foreach (var directory in allowedDirectories)
        {
            if (target.StartsWith(directory + "/", StringComparison.Ordinal))
            {
                return;
            }
        }

        throw Error(attribute, $"target '{EchoText.OfPath(target)}' is outside the allowed image directories ({EchoText.OfPath(string.Join(':', allowedDirectories))}); move the link there or add its directory to allowed-image-dirs on <vms>");
    }

    private void WarnAboutUnknownAttributes(XElement element, params XName[] known)
    {
        foreach (var attribute in element.Attributes())
        {
            if (!attribute.IsNamespaceDeclaration && !known.Contains(attribute.Name))
            {
                Warn(attribute, $"unknown attribute '{Echo(attribute.Name)}' on <{Echo(element.Name)}> ignored");
            }
        }
    }

    private void Warn(XObject where, string message)
    {
        if (_warnings.Count < MaxWarnings)
        {
            _warnings.Add($"{_filePath}:{LineOf(where)}: {message}");
        }
        else
        {
            _warningsLeftOut++;
        }
    }

    private static string Echo(XName name) => EchoText.Of(name.ToString());

    private string Location(XObject where) => $"{_filePath}:{LineOf(where)}";

    private ConfigurationException Error(XObject where, string problem) => Error(LineOf(where), problem);

    private ConfigurationException Error(int line, string problem) => new(_filePath, line, problem);

    private static int LineOf(XObject where) => ((IXmlLineInfo)where).LineNumber;
}
