using System.Runtime.InteropServices;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Cryptsetup
    {
        /// <summary>The device the context works on; for a context from crypt_init_by_name, the
        /// mapping's backing device (e.g. /dev/loop0). Owned by the context: copy at once.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_get_device_name")]
        internal static partial nint GetDeviceName(SafeCryptDeviceHandle cd);
    }
}
