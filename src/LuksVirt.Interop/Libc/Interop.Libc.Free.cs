using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>free(3): the strings and arrays libvirt hands over are malloc'd and ours to free.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "free")]
        internal static partial void Free(nint pointer);
    }
}
