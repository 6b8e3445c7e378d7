using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using LuksVirt.Interop.Libc;

namespace LuksVirt.Core.Inventory;

/// <summary>
/// Reads the configuration file: the classic recipe's <c>&lt;vms&gt;</c> document, accepted
/// unchanged, plus LuksVirt's extensions (docs/configuration.md). Every problem is a
/// <see cref="ConfigurationException"/> naming file, line and fix.
/// </summary>
/// <remarks>
/// The file is read without blocking and must be a regular file (a FIFO would hang the run, a
/// device's open runs its driver); a symbolic link to one is followed, as configuration under
/// /etc often is. It is bounded before it is parsed: <see cref="MaxFileBytes"/> in all and
/// <see cref="MaxDepth"/> levels of elements (a real file has four), checked in one streaming
/// pass, so a hostile file costs a bounded read and never a deep tree.
/// </remarks>
internal static class InventoryConfigLoader
{
    public const string DefaultPath = "/etc/luksvirt/luksvirt.xml";

    /// <summary>1 MiB: thousands of guests; a bigger file is not a configuration.</summary>
    public const int MaxFileBytes = 1024 * 1024;

    /// <summary>Element nesting allowed (vms/vm/luks/disk is four).</summary>
    public const int MaxDepth = 32;

    /// <summary>
    /// <c>--config FILE</c> when given (the file must exist), else the default path, where an
    /// absent file means "no configuration: discovery only".
    /// </summary>
    public static InventoryConfig LoadExplicitOrDefault(string? explicitPath) =>
        explicitPath is null ? LoadIfPresent(DefaultPath) : Load(explicitPath);

    /// <summary>A file the user named: its absence is an error.</summary>
    public static InventoryConfig Load(string path) =>
        LoadCore(path, missingIsEmpty: false);

    /// <summary>The default location: an absent file gives an empty configuration.</summary>
    public static InventoryConfig LoadIfPresent(string path = DefaultPath) =>
        LoadCore(path, missingIsEmpty: true);

    private static InventoryConfig LoadCore(string path, bool missingIsEmpty)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = Path.GetFullPath(path);
        byte[] bytes;
        try
        {
            bytes = ReadBounded(fullPath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            if (missingIsEmpty)
            {
                return InventoryConfig.Empty(fullPath);
            }

            throw new ConfigurationException(fullPath, line: null, "configuration file does not exist; check the --config path", e);
        }
        catch (NotRegularFileException e) when (e.Type == PosixFileType.Directory)
        {
            throw new ConfigurationException(fullPath, line: null, "is a directory; name the XML configuration file", e);
        }
        catch (NotRegularFileException e)
        {
            throw new ConfigurationException(fullPath, line: null,
                $"is {NotRegularFileException.Describe(e.Type)}, not a regular file; name the XML configuration file", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ConfigurationException(fullPath, line: null, $"cannot read the configuration file ({e.Message}); run as root or fix its permissions", e);
        }
        catch (IOException e)
        {
            throw new ConfigurationException(fullPath, line: null, $"cannot read the configuration file: {e.Message}", e);
        }

        XDocument document;
        try
        {
            RequireBoundedDepth(fullPath, bytes);
            document = Parse(bytes);
        }
        catch (XmlException e)
        {
            // An empty file has no line at all; point at line 1. The parser's message may quote
            // the file (an element name): it is cut short like every echoed value.
            throw new ConfigurationException(fullPath, Math.Max(1, e.LineNumber), $"malformed XML: {BoundedXmlMessage(e)} Fix the XML syntax.", e);
        }

        return new InventoryConfigParser(fullPath).Parse(document);
    }

    private static byte[] ReadBounded(string fullPath)
    {
        using var file = RegularFile.OpenForReading(fullPath, followLinks: true, out _);
        return RegularFile.ReadAtMost(file, MaxFileBytes)
            ?? throw new ConfigurationException(fullPath, line: null,
                $"the file is larger than {MaxFileBytes / 1024} KiB, which no configuration needs; name the right file with --config");
    }

    // No DTDs and no external entities: the file is plain data.
    private static XmlReaderSettings Settings() => new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        IgnoreComments = true,
        IgnoreProcessingInstructions = true,
        MaxCharactersInDocument = MaxFileBytes,
    };

    /// <summary>One streaming pass before any tree is built: building one for a deeply nested
    /// document costs time that grows with the square of its depth.</summary>
    private static void RequireBoundedDepth(string fullPath, byte[] bytes)
    {
        using var reader = XmlReader.Create(new MemoryStream(bytes, writable: false), Settings());
        while (reader.Read())
        {
            if (reader.NodeType == XmlNodeType.Element && reader.Depth >= MaxDepth)
            {
                throw new ConfigurationException(fullPath, ((IXmlLineInfo)reader).LineNumber,
                    string.Create(CultureInfo.InvariantCulture, $"elements are nested more than {MaxDepth} levels deep; a configuration has four (<vms><vm><luks><disk>)"));
            }
        }
    }

    private static XDocument Parse(byte[] bytes)
    {
        using var reader = XmlReader.Create(new MemoryStream(bytes, writable: false), Settings());
        return XDocument.Load(reader, LoadOptions.SetLineInfo);
    }

    private static string BoundedXmlMessage(XmlException e)
    {
        const int MaxChars = 200;
        var message = e.Message.Length <= MaxChars ? e.Message : e.Message[..MaxChars] + "…";
        return message.Any(char.IsControl) ? new string(message.Select(c => char.IsControl(c) ? '?' : c).ToArray()) : message;
    }
}
