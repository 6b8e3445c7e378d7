using LuksVirt.Core.Holders;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Core.Tang.Luks1;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Containers;

/// <summary>The header facts of a container just formatted.</summary>
internal sealed record FormattedContainer(string Path, LuksVersion Version, string Uuid, string Cipher, long PayloadOffset, int SectorSize);

/// <summary>
/// Formats a LUKS container through libcryptsetup with generated keys in their planned slots.
/// Every slot uses the minimal PBKDF2 cost: the keys have full entropy (see
/// <see cref="GeneratedKeys"/>), so a slow derivation would only slow down every unlock without
/// making a guess any less hopeless. Each key is tried on its slot before the container counts.
/// </summary>
internal static class LuksContainerFormatter
{
    /// <param name="registryPath">Where LUKS1 holder names go (LUKS2 keeps them as tokens).</param>
    public static FormattedContainer Format(string path, LuksVersion version, CipherSpec cipher, GeneratedKeys keys, string registryPath = KeySlotEditorOptions.DefaultRegistryPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(cipher);
        ArgumentNullException.ThrowIfNull(keys);
        var pbkdf = PbkdfSettings.MinimalPbkdf2;
        var options = new LuksFormatOptions(version, cipher.Cipher, cipher.Mode, cipher.VolumeKeyBytes, pbkdf)
        {
            Luks1PayloadAlignmentSectors = version == LuksVersion.Luks1 ? Luks1LuksMetaRoom.PayloadAlignmentSectors(cipher.VolumeKeyBytes) : 0,
        };
        using var device = CryptDevice.Open(path);
        var first = keys.Keys[0];
        device.Format(options, first.Secret.Span, first.Plan.Slot);
        device.SetPbkdf(pbkdf);
        foreach (var key in keys.Keys.Skip(1))
        {
            device.AddKey(first.Secret.Span, key.Secret.Span, key.Plan.Slot);
        }

        foreach (var key in keys.Keys)
        {
            // Throws WrongKeyException if a key does not open the slot it is filed under.
            device.TestKey(key.Secret.Span, key.Plan.Slot);
        }

        if (device.Version == LuksVersion.Luks1)
        {
            RequireLuksMetaRoom(path);
        }

        // Who holds which slot, so `keys list` names them and an unlock tries each holder's key
        // on its own slot first.
        var holders = HolderStores.For(device.Version, registryPath);
        var created = DateTimeOffset.UtcNow;
        foreach (var key in keys.Keys)
        {
            holders.Record(device, key.Plan.Slot, new HolderRecord(key.Plan.Holder, HolderKeyKind.Generated, created));
        }

        return new FormattedContainer(
            path,
            device.Version,
            device.Uuid,
            $"{device.Cipher}-{device.CipherMode}",
            checked((long)device.DataOffsetSectors * DiskSize.SectorBytes),
            device.EncryptionSectorSize);
    }

    /// <summary>Proven, not assumed: the header as written leaves clevis the gap it binds in.</summary>
    private static void RequireLuksMetaRoom(string path)
    {
        using var file = File.OpenHandle(path);
        if (LuksMeta.DescribeRoom(file) == LuksMetaRoom.NoRoom)
        {
            throw new IOException($"{path}: the LUKS1 header as formatted leaves no room for LUKSMeta (clevis/Tang bindings) before the payload");
        }
    }

    /// <summary>The volume key of a container, unlocked by one of its generated keys.</summary>
    public static SecretBuffer TakeVolumeKey(string path, GeneratedKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        using var device = CryptDevice.Load(path);
        return device.GetVolumeKey(key.Secret.Span, key.Plan.Slot);
    }
}
