using System.Runtime.InteropServices;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Cryptsetup
    {
        // The const char* results point into the context and stay valid only until the next
        // call on it: they are returned raw here and copied into strings at once by the caller.

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_get_type")]
        internal static partial nint GetDeviceType(SafeCryptDeviceHandle cd);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_get_uuid")]
        internal static partial nint GetUuid(SafeCryptDeviceHandle cd);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_get_cipher")]
        internal static partial nint GetCipher(SafeCryptDeviceHandle cd);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_get_cipher_mode")]
        internal static partial nint GetCipherMode(SafeCryptDeviceHandle cd);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_get_volume_key_size")]
        internal static partial int GetVolumeKeySize(SafeCryptDeviceHandle cd);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_get_data_offset")]
        internal static partial ulong GetDataOffset(SafeCryptDeviceHandle cd);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_keyslot_max", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int KeyslotMax(string type);
    }
}
