using System.Xml.Linq;
using LuksVirt.Core.Inventory;
using LuksVirt.Libvirt;
using LuksVirt.Secrets;

namespace LuksVirt.Core.Activation;

/// <summary>
/// The native backend: hands a disk's key to QEMU through the libvirt secret its domain XML
/// names. The secret is ephemeral (memory only) and private (never readable through the API),
/// and is removed again once the guest runs: QEMU keeps the key, nothing remains in libvirt.
/// </summary>
public sealed class NativeSecretActivator(LibvirtConnection connection)
{
    public void Provide(EncryptedDisk disk, SecretBuffer key)
    {
        var uuid = disk.SecretUuid ?? throw new InvalidOperationException($"{disk.ContainerPath}: native disk without a secret UUID");
        if (!key.IsUtf8WithoutNul)
        {
            throw new ActivationException(
                $"{disk.ContainerPath}: the key that opens it is binary, but QEMU's LUKS driver needs UTF-8 text without NUL; " +
                "enrol a text key for this disk (luksvirt keys add) or use the dmcrypt backend");
        }

        using var secret = connection.TryLookupSecretByUuid(uuid) ?? connection.DefineSecret(SecretXml(uuid, disk.ContainerPath));
        if (!IsEphemeralAndPrivate(secret.GetXml()))
        {
            throw new ActivationException(
                $"libvirt secret {uuid} already exists and is persistent or readable; LuksVirt will not store a key in it. " +
                $"Remove it (virsh secret-undefine {uuid}) and run again");
        }

        secret.SetValue(key.Span);
    }

    /// <summary>Removes the secret if it exists; true when one was removed.</summary>
    public bool Remove(Guid uuid)
    {
        using var secret = connection.TryLookupSecretByUuid(uuid);
        if (secret is null)
        {
            return false;
        }

        secret.Undefine();
        return true;
    }

    internal static string SecretXml(Guid uuid, string containerPath) =>
        new XElement("secret",
            new XAttribute("ephemeral", "yes"),
            new XAttribute("private", "yes"),
            new XElement("uuid", uuid.ToString("D")),
            new XElement("description", "LuksVirt: key of " + containerPath),
            new XElement("usage", new XAttribute("type", "volume"), new XElement("volume", containerPath)))
        .ToString(SaveOptions.DisableFormatting);

    private static bool IsEphemeralAndPrivate(string xml)
    {
        var root = XElement.Parse(xml);
        return (string?)root.Attribute("ephemeral") == "yes" && (string?)root.Attribute("private") == "yes";
    }
}
