using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Activation;

/// <summary>
/// What handing a disk to its guest would refuse, checked before anything is handed over, the
/// same way by a real run and by <c>--dry-run</c>: a dry run predicts exactly the refusals of the
/// real run. The activators check the same conditions again when they act (defence in depth),
/// with the same messages.
/// </summary>
internal static class ActivationPreflight
{
    /// <summary>Why a dmcrypt disk cannot be opened on this host at all.</summary>
    public const string NoDeviceMapper =
        "device-mapper not available: this kernel has no dm-crypt; load it (modprobe dm_crypt) or use the native backend";

    /// <summary>Refusals that need no key: the host or the link path forbid the disk's backend.
    /// A real run refuses these before any key derivation; a dry run still tries the keys (a
    /// trial needs neither device-mapper nor the link) and then reports the same refusal.</summary>
    public static string? BeforeKeys(EncryptedDisk disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        if (disk.Backend != DiskBackend.DmCrypt)
        {
            return null;
        }

        if (!CryptDevice.IsDeviceMapperAvailable)
        {
            return NoDeviceMapper;
        }

        return DeviceLink.Refusal(disk.LinkPath!);
    }

    /// <summary>Refusals of the key that opened the disk: QEMU's LUKS driver reads the key of a
    /// native disk from a libvirt secret as UTF-8 text without NUL.</summary>
    public static string? ForKey(EncryptedDisk disk, SecretBuffer key)
    {
        ArgumentNullException.ThrowIfNull(disk);
        ArgumentNullException.ThrowIfNull(key);
        return disk.Backend == DiskBackend.Native && !key.IsUtf8WithoutNul
            ? "the key that opens it is binary, but QEMU's LUKS driver needs UTF-8 text without NUL; " +
              "enrol a text key for this disk (luksvirt keys add) or use the dmcrypt backend"
            : null;
    }
}
