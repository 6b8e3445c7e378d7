using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>mmap(2), mprotect(2) and madvise(2) values (Linux, asm-generic: the same on
        /// x86-64 and AArch64).</summary>
        internal static class Memory
        {
            internal const int PROT_NONE = 0x0;
            internal const int PROT_READ = 0x1;
            internal const int PROT_WRITE = 0x2;

            internal const int MAP_SHARED = 0x01;
            internal const int MAP_PRIVATE = 0x02;
            internal const int MAP_ANONYMOUS = 0x20;

            /// <summary>Leave the range out of core dumps.</summary>
            internal const int MADV_DONTDUMP = 16;

            /// <summary>mmap's failure value, (void*)-1.</summary>
            internal static readonly nint MapFailed = -1;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "mmap", SetLastError = true)]
        internal static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

        [LibraryImport(Libraries.Libc, EntryPoint = "munmap", SetLastError = true)]
        internal static partial int Munmap(nint address, nuint length);

        [LibraryImport(Libraries.Libc, EntryPoint = "mprotect", SetLastError = true)]
        internal static partial int Mprotect(nint address, nuint length, int protection);

        [LibraryImport(Libraries.Libc, EntryPoint = "madvise", SetLastError = true)]
        internal static partial int Madvise(nint address, nuint length, int advice);

        [LibraryImport(Libraries.Libc, EntryPoint = "ftruncate", SetLastError = true)]
        internal static partial int Ftruncate(int fd, long length);
    }
}
