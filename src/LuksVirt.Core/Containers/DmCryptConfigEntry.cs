using System.Text;
using System.Xml.Linq;
using System.Xml;
using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Libc;

namespace LuksVirt.Core.Containers;

/// <summary>
/// Adds a <c>dmcrypt</c> disk to the configuration file in the classic format
/// (<c>&lt;vm name=...&gt;&lt;luks&gt;&lt;disk source=... target=.../&gt;</c>), which is how unlock
/// learns about it. <see cref="Plan"/> checks everything against the current file before any
/// work; <see cref="Apply"/> replaces the file atomically (new file 0600, fsync, rename) after
/// the result has passed the normal loader; <see cref="Revert"/> puts the old content back.
/// </summary>
internal sealed class DmCryptConfigEntry
{
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = OwnerOnlyFile | UnixFileMode.UserExecute;
    private const string Indent = "  ";

    private readonly string _guest;
    private byte[]? _originalContent;
    private bool _applied;

    private DmCryptConfigEntry(string filePath, bool fileExisted, string guest, string source, string target)
    {
        FilePath = filePath;
        FileExisted = fileExisted;
        _guest = guest;
        Source = source;
        Target = target;
    }

    public string FilePath { get; }
    public bool FileExisted { get; }
    public string Source { get; }

    /// <summary>The link path the domain uses; unlock points it at /dev/mapper/luks-NAME.</summary>
    public string Target { get; }

    /// <summary>
    /// Loads the configuration (<paramref name="explicitPath"/> or the default) and checks that
    /// the new entry fits: the link defaults to <c>FIRST-ALLOWED-IMAGE-DIR/STEM.decrypted</c>,
    /// must lie in an allowed image directory, give a valid mapping name, not exist yet, and
    /// neither source nor target may be in the file already. Throws
    /// <see cref="ContainerRefusedException"/> or <see cref="ConfigurationException"/>.
    /// </summary>
    public static DmCryptConfigEntry Plan(string? explicitPath, string guest, string source, string? link, string stem)
    {
        ArgumentException.ThrowIfNullOrEmpty(guest);
        ArgumentException.ThrowIfNullOrEmpty(source);
        var config = InventoryConfigLoader.LoadExplicitOrDefault(explicitPath);
        var target = link is null
            ? Path.Combine(config.AllowedImageDirectories[0], stem + ".decrypted")
            : Path.GetFullPath(link);
        if (!config.AllowedImageDirectories.Any(d => target.StartsWith(d.TrimEnd('/') + "/", StringComparison.Ordinal)))
        {
            throw new ContainerRefusedException(
                $"link {target} is outside the allowed image directories ({string.Join(':', config.AllowedImageDirectories)}) of {config.FilePath}; choose --link there or extend allowed-image-dirs");
        }

        var mapping = "luks-" + Path.GetFileName(target);
        if (MappingNames.Validate(mapping) is { } problem)
        {
            throw new ContainerRefusedException($"the mapping name '{mapping}' for link {target} cannot be used: {problem}; choose another --link name");
        }

        foreach (var disk in config.Guests.SelectMany(g => g.Disks))
        {
            if (disk.Source == source || disk.Target == target || (disk.Target is { } t && Path.GetFileName(t) == Path.GetFileName(target)))
            {
                throw new ContainerRefusedException($"{disk.Location}: the configuration already has a disk with source {disk.Source} or a link named like {target}; choose another name or remove that entry");
            }
        }

        if (Exists(target))
        {
            throw new ContainerRefusedException($"the link path {target} already exists; LuksVirt creates that link when it unlocks. Move it away or choose another --link");
        }

        return new DmCryptConfigEntry(config.FilePath, config.FileExisted, guest, source, target);
    }

    /// <summary>Writes the file with the entry added; the container must exist by now.</summary>
    public void Apply()
    {
        var directory = Path.GetDirectoryName(FilePath)!;
        XDocument document;
        // Looked at now, not at planning: an earlier entry of the same run may have created it.
        if (File.Exists(FilePath))
        {
            _originalContent = File.ReadAllBytes(FilePath);
            using var reader = XmlReader.Create(new MemoryStream(_originalContent), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            document = XDocument.Load(reader, LoadOptions.PreserveWhitespace);
        }
        else
        {
            Directory.CreateDirectory(directory, OwnerOnlyDirectory);
            document = new XDocument(new XElement("vms"));
        }

        AddEntry(document.Root!);
        var content = Encoding.UTF8.GetBytes(document.Root!.ToString(SaveOptions.DisableFormatting) + "\n");
        Replace(content, validate: true);
        _applied = true;
    }

    /// <summary>Puts back what <see cref="Apply"/> replaced (or removes the file it created).</summary>
    public void Revert()
    {
        if (!_applied)
        {
            return;
        }

        if (_originalContent is null)
        {
            File.Delete(FilePath);
        }
        else
        {
            Replace(_originalContent, validate: false);
        }

        _applied = false;
    }

    private void AddEntry(XElement root)
    {
        var vm = root.Elements("vm").FirstOrDefault(v => (string?)v.Attribute("name") == _guest);
        if (vm is null)
        {
            vm = new XElement("vm", new XAttribute("name", _guest));
            AppendIndented(root, vm, depth: 1);
        }

        var luks = vm.Element("luks");
        if (luks is null)
        {
            luks = new XElement("luks");
            AppendIndented(vm, luks, depth: 2);
        }

        AppendIndented(luks, new XElement("disk", new XAttribute("source", Source), new XAttribute("target", Target)), depth: 3);
    }

    // Keeps a hand-written file readable: the new element on its own line at its depth.
    private static void AppendIndented(XElement parent, XElement child, int depth)
    {
        var childIndent = "\n" + string.Concat(Enumerable.Repeat(Indent, depth));
        if (parent.LastNode is XText { Value: var text } closingWhitespace && string.IsNullOrWhiteSpace(text))
        {
            closingWhitespace.AddBeforeSelf(new XText(childIndent), child);
        }
        else
        {
            parent.Add(new XText(childIndent), child, new XText("\n" + string.Concat(Enumerable.Repeat(Indent, depth - 1))));
        }
    }

    private void Replace(byte[] content, bool validate)
    {
        var temporary = FilePath + ".luksvirt-new";
        if (Exists(temporary))
        {
            // Left by a run that was killed between writing and renaming: never read, safe to drop.
            File.Delete(temporary);
        }

        PosixFile.CreateExclusive(temporary, content, OwnerOnlyFile);
        try
        {
            if (validate)
            {
                _ = InventoryConfigLoader.Load(temporary);
            }

            File.Move(temporary, FilePath, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static bool Exists(string path)
    {
        try
        {
            _ = PosixFile.GetLinkStatus(path);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }
}
