using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int SEEK_END = 2;

        [LibraryImport(Libraries.Libc, EntryPoint = "lseek", SetLastError = true)]
        internal static partial long Lseek(SafeFileHandle file, long offset, int whence);
    }
}
