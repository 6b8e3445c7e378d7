using System.Xml;
using System.Xml.Linq;

namespace LuksVirt.Core.Inventory;

/// <summary>
/// Reads the configuration file: the classic recipe's <c>&lt;vms&gt;</c> document, accepted
/// unchanged, plus LuksVirt's extensions (docs/configuration.md). Every problem is a
/// <see cref="ConfigurationException"/> naming file, line and fix.
/// </summary>
public static class InventoryConfigLoader
{
    public const string DefaultPath = "/etc/luksvirt/luksvirt.xml";

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
        XDocument document;
        try
        {
            document = Read(fullPath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            if (missingIsEmpty)
            {
                return InventoryConfig.Empty(fullPath);
            }

            throw new ConfigurationException(fullPath, line: null, "configuration file does not exist; check the --config path", e);
        }
        catch (UnauthorizedAccessException e) when (Directory.Exists(fullPath))
        {
            throw new ConfigurationException(fullPath, line: null, "is a directory; name the XML configuration file", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ConfigurationException(fullPath, line: null, $"cannot read the configuration file ({e.Message}); run as root or fix its permissions", e);
        }
        catch (XmlException e)
        {
            // An empty file has no line at all; point at line 1.
            throw new ConfigurationException(fullPath, Math.Max(1, e.LineNumber), $"malformed XML: {e.Message} Fix the XML syntax.", e);
        }
        catch (IOException e)
        {
            throw new ConfigurationException(fullPath, line: null, $"cannot read the configuration file: {e.Message}", e);
        }

        return new InventoryConfigParser(fullPath).Parse(document);
    }

    private static XDocument Read(string fullPath)
    {
        // No DTDs and no external entities: the file is plain data.
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
        };
        using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var reader = XmlReader.Create(stream, settings);
        return XDocument.Load(reader, LoadOptions.SetLineInfo);
    }
}
