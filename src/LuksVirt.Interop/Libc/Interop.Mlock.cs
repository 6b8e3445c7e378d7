using System.Runtime.InteropServices;

namespace LuksVirt;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "mlock", SetLastError = true)]
        internal static unsafe partial int Mlock(void* address, nuint length);

        [LibraryImport(Libraries.Libc, EntryPoint = "munlock", SetLastError = true)]
        internal static unsafe partial int Munlock(void* address, nuint length);

        /// <summary>Locks pinned memory into RAM. False when the kernel refuses (RLIMIT_MEMLOCK):
        /// the buffer still works, it may just reach swap.</summary>
        internal static unsafe bool TryLockMemory(Span<byte> pinned)
        {
            if (pinned.IsEmpty)
            {
                return false;
            }

            fixed (byte* p = pinned)
            {
                return Mlock(p, (nuint)pinned.Length) == 0;
            }
        }

        internal static unsafe void UnlockMemory(Span<byte> pinned)
        {
            fixed (byte* p = pinned)
            {
                _ = Munlock(p, (nuint)pinned.Length);
            }
        }
    }
}
