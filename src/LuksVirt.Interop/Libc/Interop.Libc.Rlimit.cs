using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>RLIMIT_CORE: the largest core file the kernel writes for the process.</summary>
        internal const int RLIMIT_CORE = 4;

        /// <summary>RLIMIT_MEMLOCK: bytes of memory a process may lock without CAP_IPC_LOCK.</summary>
        internal const int RLIMIT_MEMLOCK = 8;

        /// <summary>RLIM_INFINITY: no limit.</summary>
        internal const ulong RlimInfinity = ulong.MaxValue;

        [StructLayout(LayoutKind.Sequential)]
        internal struct Rlimit
        {
            internal ulong Current;
            internal ulong Maximum;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "getrlimit", SetLastError = true)]
        internal static partial int Getrlimit(int resource, out Rlimit limit);

        [LibraryImport(Libraries.Libc, EntryPoint = "setrlimit", SetLastError = true)]
        internal static partial int Setrlimit(int resource, in Rlimit limit);
    }
}
