using System.Runtime.InteropServices;
using LuksVirt.Interop.Libc;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>The errno values LuksVirt reacts to (Linux, asm-generic/errno-base.h and errno.h).</summary>
        internal static class Errno
        {
            internal const int EPERM = 1;
            internal const int ENOENT = 2;
            internal const int ESRCH = 3;
            internal const int EINTR = 4;
            internal const int EBADF = 9;
            internal const int EAGAIN = 11;
            internal const int EWOULDBLOCK = EAGAIN;
            internal const int ENOMEM = 12;
            internal const int EACCES = 13;
            internal const int EEXIST = 17;
            internal const int ENOTDIR = 20;
            internal const int EINVAL = 22;
            internal const int ERANGE = 34;
            internal const int ENOSYS = 38;
            internal const int ELOOP = 40;
        }

        /// <summary>errno of the last call made with SetLastError = true; read it right after the call.</summary>
        internal static int LastErrno => Marshal.GetLastPInvokeError();

        /// <summary>
        /// The one errno-to-exception mapping for libc calls. <paramref name="refusedLinks"/> says the
        /// call used O_NOFOLLOW (or AT_SYMLINK_NOFOLLOW), so ELOOP means "the final component is a
        /// symbolic link", not a loop of links.
        /// </summary>
        internal static Exception CreateException(int errno, string function, string? path, bool refusedLinks = false)
        {
            var subject = path ?? function;
            var message = $"{subject}: {Marshal.GetPInvokeErrorMessage(errno)} ({function})";
            return errno switch
            {
                Errno.ENOENT => new FileNotFoundException(message, path),
                Errno.EACCES or Errno.EPERM => new UnauthorizedAccessException(message),
                Errno.ELOOP when refusedLinks && path is not null => new SymbolicLinkRefusedException(path),
                // HResult carries the raw errno, as dotnet/runtime does for Unix I/O errors.
                _ => new IOException(message, errno),
            };
        }

        /// <summary>Throws for the errno of the call that just failed.</summary>
        internal static Exception CreateExceptionForLastErrno(string function, string? path, bool refusedLinks = false) =>
            CreateException(LastErrno, function, path, refusedLinks);
    }
}
