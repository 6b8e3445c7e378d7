using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Activation;

/// <summary>What <see cref="NativeSecretActivator.Remove"/> found and did.</summary>
internal enum SecretRemoval
{
    /// <summary>LuksVirt's secret was there and is gone: libvirt holds the key no more.</summary>
    Removed,

    /// <summary>No secret of that UUID exists.</summary>
    Absent,

    /// <summary>A secret of that UUID exists but LuksVirt did not make it (an administrator's,
    /// e.g. a persistent stored passphrase): left untouched.</summary>
    NotLuksVirts,
}

/// <summary>
/// The native backend: hands a disk's key to QEMU through the libvirt secret its domain XML
/// names. The secret is ephemeral (memory only) and private (never readable through the API),
/// marked as LuksVirt's (<see cref="SecretOwnership"/>), and is removed again once the guest
/// runs: QEMU keeps the key, nothing remains in libvirt. A secret LuksVirt did not make is
/// neither used nor removed.
/// </summary>
internal sealed class NativeSecretActivator(LibvirtConnection connection)
{
    public void Provide(EncryptedDisk disk, SecretBuffer key)
    {
        ArgumentNullException.ThrowIfNull(disk);
        ArgumentNullException.ThrowIfNull(key);
        var uuid = disk.SecretUuid ?? throw new InvalidOperationException($"{disk.ContainerPath}: native disk without a secret UUID");
        if (!key.IsUtf8WithoutNul)
        {
            throw new ActivationException(
                $"{disk.ContainerPath}: the key that opens it is binary, but QEMU's LUKS driver needs UTF-8 text without NUL; " +
                "enrol a text key for this disk (luksvirt keys add) or use the dmcrypt backend");
        }

        var existing = connection.TryLookupSecretByUuid(uuid);
        var definedHere = existing is null;
        using var secret = existing ?? connection.DefineSecret(SecretOwnership.Xml(uuid, disk.ContainerPath));
        try
        {
            var xml = secret.GetXml();
            if (!SecretOwnership.IsEphemeralAndPrivate(xml))
            {
                throw new ActivationException(
                    $"libvirt secret {uuid} already exists and is persistent or readable; LuksVirt will not store a key in it. " +
                    $"Remove it (virsh secret-undefine {uuid}) and run again");
            }

            if (!SecretOwnership.IsLuksVirts(xml, out _))
            {
                // LuksVirt removes only secrets it made; a key put into someone else's would stay.
                throw new ActivationException(
                    $"libvirt secret {uuid} already exists and was not made by LuksVirt; LuksVirt will not store a key in it. " +
                    $"Remove it (virsh secret-undefine {uuid}) and run again");
            }

            secret.SetValue(key.Span);
        }
        catch when (definedHere)
        {
            // Nothing of this run may stay behind in libvirt when handing the key over fails.
            TryUndefine(secret);
            throw;
        }
    }

    /// <summary>Removes the secret if LuksVirt made it; a secret it did not make is reported
    /// (<see cref="SecretRemoval.NotLuksVirts"/>) and left alone.</summary>
    public SecretRemoval Remove(Guid uuid)
    {
        using var secret = connection.TryLookupSecretByUuid(uuid);
        if (secret is null)
        {
            return SecretRemoval.Absent;
        }

        if (!SecretOwnership.IsLuksVirts(secret.GetXml(), out _))
        {
            return SecretRemoval.NotLuksVirts;
        }

        try
        {
            secret.Undefine();
        }
        catch (SecretNotFoundException)
        {
            return SecretRemoval.Absent;
        }

        return SecretRemoval.Removed;
    }

    private static void TryUndefine(LibvirtSecret secret)
    {
        try
        {
            secret.Undefine();
        }
        catch (LibvirtException)
        {
            // The original failure is what the caller sees; the next run's sweep removes it.
        }
    }
}
