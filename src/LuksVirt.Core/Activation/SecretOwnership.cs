using System.Xml;
using System.Xml.Linq;

namespace LuksVirt.Core.Activation;

/// <summary>
/// How a libvirt secret LuksVirt defines is told apart from every other secret, so that only
/// LuksVirt's own are ever removed. No single mark is enough: an administrator could write the
/// same description by hand, or keep a key in an ephemeral, private secret. So a secret is
/// LuksVirt's only when ALL of these hold, as LuksVirt writes them and nothing else does by
/// accident: ephemeral='yes' and private='yes' (it holds nothing that can be read back or that
/// outlives libvirtd, so removing it loses nothing stored), usage type 'volume', and a
/// description that is exactly the marker followed by the usage volume (the container path).
/// The marker is the one LuksVirt has always written, so leftovers of earlier versions are found too.
/// </summary>
internal static class SecretOwnership
{
    public const string DescriptionMarker = "LuksVirt: key of ";

    private static readonly XmlReaderSettings ParseSettings = new() { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null };

    /// <summary>The XML of the secret that hands <paramref name="containerPath"/>'s key to QEMU.</summary>
    public static string Xml(Guid uuid, string containerPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerPath);
        return new XElement("secret",
                new XAttribute("ephemeral", "yes"),
                new XAttribute("private", "yes"),
                new XElement("uuid", uuid.ToString("D")),
                new XElement("description", DescriptionMarker + containerPath),
                new XElement("usage", new XAttribute("type", "volume"), new XElement("volume", containerPath)))
            .ToString(SaveOptions.DisableFormatting);
    }

    /// <summary>True when the secret (libvirt's XML of it) is one LuksVirt made;
    /// <paramref name="containerPath"/> is then the container whose key it is for. XML that does
    /// not parse is not LuksVirt's.</summary>
    public static bool IsLuksVirts(string secretXml, out string containerPath)
    {
        containerPath = "";
        if (Parse(secretXml) is not { } root || !IsEphemeralAndPrivate(root))
        {
            return false;
        }

        var usage = root.Element("usage");
        var volume = (string?)usage?.Element("volume");
        if ((string?)usage?.Attribute("type") != "volume" || string.IsNullOrEmpty(volume)
            || (string?)root.Element("description") != DescriptionMarker + volume)
        {
            return false;
        }

        containerPath = volume;
        return true;
    }

    /// <summary>ephemeral='yes' and private='yes': the key is never written to disk nor readable
    /// through libvirt's API.</summary>
    public static bool IsEphemeralAndPrivate(string secretXml) => Parse(secretXml) is { } root && IsEphemeralAndPrivate(root);

    private static bool IsEphemeralAndPrivate(XElement root) =>
        root.Name == "secret" && (string?)root.Attribute("ephemeral") == "yes" && (string?)root.Attribute("private") == "yes";

    private static XElement? Parse(string secretXml)
    {
        try
        {
            // libvirt writes no DTD: one means the XML is not a secret libvirt rendered, and no
            // entity of it is ever expanded (XElement.Parse alone would expand them).
            using var reader = XmlReader.Create(new StringReader(secretXml), ParseSettings);
            return XElement.Load(reader);
        }
        catch (XmlException)
        {
            return null;
        }
    }
}
