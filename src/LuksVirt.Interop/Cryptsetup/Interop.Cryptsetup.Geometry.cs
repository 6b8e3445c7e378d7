using System.Runtime.InteropServices;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Cryptsetup
    {
        /// <summary>Encryption sector size in bytes (512 for LUKS1; LUKS2 may use up to 4096).</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_get_sector_size")]
        internal static partial int GetSectorSize(SafeCryptDeviceHandle cd);
    }
}
