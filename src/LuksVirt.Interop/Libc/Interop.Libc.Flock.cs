using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int LOCK_EX = 2;
        internal const int LOCK_NB = 4;
        internal const int LOCK_UN = 8;

        [LibraryImport(Libraries.Libc, EntryPoint = "flock", SetLastError = true)]
        private static partial int FlockRaw(SafeFileHandle file, int operation);

        /// <summary>flock(LOCK_EX|LOCK_NB): true when taken, false while another open file
        /// description holds it.</summary>
        internal static bool TryLockExclusive(SafeFileHandle file, string displayPath)
        {
            while (true)
            {
                if (FlockRaw(file, LOCK_EX | LOCK_NB) == 0)
                {
                    return true;
                }

                var errno = LastErrno;
                if (errno == Errno.EWOULDBLOCK)
                {
                    return false;
                }

                if (errno != Errno.EINTR)
                {
                    throw CreateException(errno, "flock", displayPath);
                }
            }
        }
    }
}
