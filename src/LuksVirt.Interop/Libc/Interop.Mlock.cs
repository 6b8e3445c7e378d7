using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        // mlock is per page and not counted: munlock of any byte of a page unlocks the whole page,
        // whoever else locked it. Callers lock only pages they alone own (see SecretPages).
        [LibraryImport(Libraries.Libc, EntryPoint = "mlock", SetLastError = true)]
        internal static partial int Mlock(nint address, nuint length);

        [LibraryImport(Libraries.Libc, EntryPoint = "munlock", SetLastError = true)]
        internal static partial int Munlock(nint address, nuint length);
    }
}
