using System.Runtime.InteropServices;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Cryptsetup
    {
        /// <summary><paramref name="volumeKeySize"/> is the buffer size in and the key size out.
        /// Returns the slot that opened.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_volume_key_get")]
        internal static unsafe partial int VolumeKeyGet(
            SafeCryptDeviceHandle cd,
            int keyslot,
            byte* volumeKey,
            nuint* volumeKeySize,
            byte* passphrase,
            nuint passphraseSize);
    }
}
