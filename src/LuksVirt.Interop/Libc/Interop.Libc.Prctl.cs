using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int PR_GET_DUMPABLE = 3;
        internal const int PR_SET_DUMPABLE = 4;

        // prctl is variadic in C; on x86-64 and AArch64 Linux variadic integer arguments travel in
        // the same registers as fixed ones, so a fixed five-argument signature calls it correctly.
        [LibraryImport(Libraries.Libc, EntryPoint = "prctl", SetLastError = true)]
        internal static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
    }
}
