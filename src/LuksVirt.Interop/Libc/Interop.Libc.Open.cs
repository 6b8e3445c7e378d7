using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop;

// SafeHandle parameters marshal as a pointer-sized integer while the C prototypes take an int
// descriptor: on the LP64 ABIs .NET runs on (x86-64, AArch64) an int argument occupies the low 32
// bits of its register and the callee ignores the rest, so this is exact, and the marshaller keeps
// the descriptor from being closed during the call.
internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>open(2) flags. Values are x86-64's (asm-generic); AArch64 differs for
        /// O_DIRECTORY and O_NOFOLLOW, and LuksVirt is published for linux-x64 only.</summary>
        internal static class OpenFlags
        {
            internal const int O_RDONLY = 0x0;
            internal const int O_WRONLY = 0x1;
            internal const int O_RDWR = 0x2;
            internal const int O_CREAT = 0x40;
            internal const int O_EXCL = 0x80;
            internal const int O_NOCTTY = 0x100;
            internal const int O_NONBLOCK = 0x800;
            internal const int O_DIRECT = 0x4000;
            internal const int O_DIRECTORY = 0x10000;
            internal const int O_NOFOLLOW = 0x20000;
            internal const int O_CLOEXEC = 0x80000;
            internal const int O_PATH = 0x200000;
        }

        /// <summary>The directory descriptor meaning "relative to the working directory" in *at calls.</summary>
        internal const int AT_FDCWD = -100;

        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int OpenRaw(string path, int flags, uint mode);

        [LibraryImport(Libraries.Libc, EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int OpenAtRaw(SafeFileHandle directory, string name, int flags, uint mode);

        [LibraryImport(Libraries.Libc, EntryPoint = "fchmod", SetLastError = true)]
        internal static partial int Fchmod(SafeFileHandle file, uint mode);

        [LibraryImport(Libraries.Libc, EntryPoint = "fsync", SetLastError = true)]
        internal static partial int Fsync(SafeFileHandle file);

        [LibraryImport(Libraries.Libc, EntryPoint = "mkdir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int Mkdir(string path, uint mode);

        /// <summary>open(2), retried on EINTR; the descriptor is owned by the returned handle.
        /// Throws the mapped exception (ELOOP becomes <see cref="LuksVirt.Interop.Libc.SymbolicLinkRefusedException"/>
        /// when <paramref name="flags"/> holds O_NOFOLLOW).</summary>
        internal static SafeFileHandle Open(string path, int flags, uint mode = 0)
        {
            while (true)
            {
                var fd = OpenRaw(path, flags, mode);
                if (fd >= 0)
                {
                    return new SafeFileHandle(fd, ownsHandle: true);
                }

                var errno = LastErrno;
                if (errno != Errno.EINTR)
                {
                    var refusedLinks = (flags & OpenFlags.O_NOFOLLOW) != 0;
                    throw CreateException(IsRefusedDirectoryLink(errno, path, flags) ? Errno.ELOOP : errno, "open", path, refusedLinks);
                }
            }
        }

        // With O_DIRECTORY the kernel reports a final symlink as ENOTDIR, not ELOOP; tell the two
        // apart (after errno was read) so a symlinked directory gets the clear "symbolic link" error.
        private static bool IsRefusedDirectoryLink(int errno, string path, int flags)
        {
            const int DirectoryNoFollow = OpenFlags.O_DIRECTORY | OpenFlags.O_NOFOLLOW;
            return errno == Errno.ENOTDIR && (flags & DirectoryNoFollow) == DirectoryNoFollow &&
                StatxAt(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, out var status) == 0 &&
                (status.Mode & S_IFMT) == S_IFLNK;
        }

        /// <summary>openat(2) relative to an open directory, retried on EINTR.
        /// <paramref name="displayPath"/> names the entry in error messages.</summary>
        internal static SafeFileHandle OpenAt(SafeFileHandle directory, string name, int flags, string displayPath, uint mode = 0)
        {
            while (true)
            {
                var fd = OpenAtRaw(directory, name, flags, mode);
                if (fd >= 0)
                {
                    return new SafeFileHandle(fd, ownsHandle: true);
                }

                var errno = LastErrno;
                if (errno != Errno.EINTR)
                {
                    throw CreateException(errno, "openat", displayPath, refusedLinks: (flags & OpenFlags.O_NOFOLLOW) != 0);
                }
            }
        }
    }
}
