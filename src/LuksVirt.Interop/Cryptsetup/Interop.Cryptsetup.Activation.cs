using System.Runtime.InteropServices;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Cryptsetup
    {
        /// <summary>crypt_status_info values.</summary>
        internal const int StatusInvalid = 0;
        internal const int StatusInactive = 1;
        internal const int StatusActive = 2;
        internal const int StatusBusy = 3;

        /// <summary>A NULL <paramref name="name"/> only checks the passphrase. Returns the slot it opened.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_activate_by_passphrase", StringMarshalling = StringMarshalling.Utf8)]
        internal static unsafe partial int ActivateByPassphrase(
            SafeCryptDeviceHandle cd,
            string? name,
            int keyslot,
            byte* passphrase,
            nuint passphraseSize,
            uint flags);

        /// <summary>Activates with the volume key itself: no key derivation. Returns the slot, or 0.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_activate_by_volume_key", StringMarshalling = StringMarshalling.Utf8)]
        internal static unsafe partial int ActivateByVolumeKey(
            SafeCryptDeviceHandle cd,
            string name,
            byte* volumeKey,
            nuint volumeKeySize,
            uint flags);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_deactivate", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int Deactivate(SafeCryptDeviceHandle cd, string name);

        /// <summary>Returns crypt_status_info; the device may be NULL.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_status", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int Status(nint cd, string name);
    }
}
