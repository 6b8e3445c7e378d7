using System.Runtime.InteropServices;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Cryptsetup
    {
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_header_backup", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int HeaderBackup(SafeCryptDeviceHandle cd, string? requestedType, string backupFile);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_header_restore", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int HeaderRestore(SafeCryptDeviceHandle cd, string? requestedType, string backupFile);
    }
}
