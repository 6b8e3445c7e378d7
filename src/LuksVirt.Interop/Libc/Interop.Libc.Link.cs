using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "symlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int SymlinkAt(string target, SafeFileHandle directory, string name);

        [LibraryImport(Libraries.Libc, EntryPoint = "renameat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int RenameAt(SafeFileHandle oldDirectory, string oldName, SafeFileHandle newDirectory, string newName);

        [LibraryImport(Libraries.Libc, EntryPoint = "readlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static unsafe partial nint ReadLinkAt(SafeFileHandle directory, string name, byte* buffer, nuint size);
    }
}
