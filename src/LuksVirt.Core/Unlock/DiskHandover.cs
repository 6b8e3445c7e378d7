using LuksVirt.Core.Activation;
using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Unlock;

/// <summary>
/// Hands a disk to its guest and takes it back, whatever its backend. An interface only so
/// that tests can make one step fail with any exception (fault injection around the real
/// <see cref="DiskHandover"/>); the run itself always uses <see cref="DiskHandover"/>.
/// </summary>
internal interface IDiskHandover
{
    /// <summary>Native: the key into the disk's libvirt secret. DmCrypt: the mapping opened with
    /// the trial's volume key, owned by QEMU's user, linked. Leaves nothing behind when it throws.</summary>
    void HandOver(DiskPlan disk);

    /// <summary>An already open mapping (verified as the disk's own): owner and link set again.</summary>
    void Relink(DiskPlan disk, bool guestRuns);

    /// <summary>Undoes <see cref="HandOver"/> for a guest that did not start.</summary>
    void Withdraw(DiskPlan disk);

    /// <summary>After the start: QEMU holds the key, the libvirt secret goes.</summary>
    void RemoveSecret(DiskPlan disk);
}

internal sealed class DiskHandover(LibvirtConnection connection, HypervisorAccount account) : IDiskHandover
{
    private readonly NativeSecretActivator _native = new(connection);
    private readonly DmCryptActivator _dmcrypt = new(account);

    public void HandOver(DiskPlan disk)
    {
        var outcome = disk.Outcome ?? throw new InvalidOperationException($"{disk.Disk.ContainerPath}: handed over without a trial");
        var opener = outcome.Opened ?? throw new InvalidOperationException($"{disk.Disk.ContainerPath}: handed over without a key that opens it");
        if (disk.Disk.Backend == DiskBackend.Native)
        {
            ProvideSecret(disk.Disk, opener.Key.Secret);
        }
        else
        {
            _dmcrypt.Open(disk.Disk, outcome.VolumeKey ?? throw new InvalidOperationException($"{disk.Disk.ContainerPath}: opened without its volume key"), disk.Header);
        }
    }

    public void Relink(DiskPlan disk, bool guestRuns)
    {
        if (guestRuns)
        {
            // QEMU has the device open already; only the link for its next start is missing.
            DmCryptActivator.Relink(disk.Disk);
        }
        else
        {
            _dmcrypt.HandOver(disk.Disk);
        }
    }

    public void Withdraw(DiskPlan disk)
    {
        if (disk.Disk.Backend == DiskBackend.Native)
        {
            _native.Remove(disk.Disk.SecretUuid!.Value);
        }
        else
        {
            DmCryptActivator.Close(disk.Disk);
        }
    }

    public void RemoveSecret(DiskPlan disk) => _native.Remove(disk.Disk.SecretUuid!.Value);

    /// <summary>NativeSecretActivator.Provide defines the secret, then reads its XML back and
    /// sets the value: when one of those fails, a secret this call defined must not stay
    /// (whatever it may hold). A secret that existed before is not this call's to remove.</summary>
    private void ProvideSecret(EncryptedDisk disk, SecretBuffer key)
    {
        var uuid = disk.SecretUuid ?? throw new InvalidOperationException($"{disk.ContainerPath}: native disk without a secret UUID");
        bool existed;
        using (var before = connection.TryLookupSecretByUuid(uuid))
        {
            existed = before is not null;
        }

        try
        {
            _native.Provide(disk, key);
        }
        catch (Exception failure) when (!existed)
        {
            try
            {
                _native.Remove(uuid);
            }
            catch (LibvirtException removal)
            {
                throw new ActivationException(
                    $"{failure.Message}; removing the secret {uuid} it had defined failed too ({removal.Message}): remove it with 'virsh secret-undefine {uuid}'", failure);
            }

            throw;
        }
    }
}
