using System.Runtime.InteropServices;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Cryptsetup
    {
        /// <summary>With a NULL volume key right after crypt_format, uses the key cached in the context.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_keyslot_add_by_volume_key")]
        internal static unsafe partial int KeyslotAddByVolumeKey(
            SafeCryptDeviceHandle cd,
            int keyslot,
            byte* volumeKey,
            nuint volumeKeySize,
            byte* passphrase,
            nuint passphraseSize);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_keyslot_add_by_passphrase")]
        internal static unsafe partial int KeyslotAddByPassphrase(
            SafeCryptDeviceHandle cd,
            int keyslot,
            byte* passphrase,
            nuint passphraseSize,
            byte* newPassphrase,
            nuint newPassphraseSize);

        /// <summary>Fills <paramref name="pbkdf"/> with the slot's cost; its strings belong to the library.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_keyslot_get_pbkdf")]
        internal static unsafe partial int KeyslotGetPbkdf(SafeCryptDeviceHandle cd, int keyslot, CryptPbkdfType* pbkdf);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_keyslot_destroy")]
        internal static partial int KeyslotDestroy(SafeCryptDeviceHandle cd, int keyslot);

        /// <summary>Returns crypt_keyslot_info, numbered as <see cref="KeySlotState"/>.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_keyslot_status")]
        internal static partial int KeyslotStatus(SafeCryptDeviceHandle cd, int keyslot);
    }
}
