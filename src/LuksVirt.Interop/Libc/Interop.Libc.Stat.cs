using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        // statx(2) rather than stat(2): struct statx has the same layout on every architecture,
        // while struct stat differs between them and between glibc versions.
        internal const int AT_SYMLINK_NOFOLLOW = 0x100;
        internal const int AT_EMPTY_PATH = 0x1000;
        internal const uint STATX_BASIC_STATS = 0x7ff;
        internal const uint STATX_BTIME = 0x800;

        // What every statx call asks for; Mask says whether the file system knew the birth time.
        private const uint StatxFields = STATX_BASIC_STATS | STATX_BTIME;

        internal const uint S_IFMT = 0xF000;
        internal const uint S_IFIFO = 0x1000;
        internal const uint S_IFCHR = 0x2000;
        internal const uint S_IFDIR = 0x4000;
        internal const uint S_IFBLK = 0x6000;
        internal const uint S_IFREG = 0x8000;
        internal const uint S_IFLNK = 0xA000;
        internal const uint S_IFSOCK = 0xC000;

        /// <summary>struct statx from linux/stat.h (256 bytes); only the fields LuksVirt reads.</summary>
        [StructLayout(LayoutKind.Explicit, Size = 256)]
        internal struct Statx
        {
            [FieldOffset(0)] internal uint Mask;
            [FieldOffset(16)] internal uint LinkCount;
            [FieldOffset(20)] internal uint Uid;
            [FieldOffset(24)] internal uint Gid;
            [FieldOffset(28)] internal ushort Mode;
            [FieldOffset(32)] internal ulong Inode;
            [FieldOffset(40)] internal ulong Size;
            [FieldOffset(80)] internal long BirthSeconds;
            [FieldOffset(88)] internal uint BirthNanoseconds;
            [FieldOffset(128)] internal uint RawDeviceMajor;
            [FieldOffset(132)] internal uint RawDeviceMinor;
            [FieldOffset(136)] internal uint DeviceMajor;
            [FieldOffset(140)] internal uint DeviceMinor;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int StatxAt(SafeFileHandle directory, string path, int flags, uint mask, out Statx buffer);

        [LibraryImport(Libraries.Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int StatxAt(int directory, string path, int flags, uint mask, out Statx buffer);

        /// <summary>fstat equivalent: the file the descriptor refers to, never a path.</summary>
        internal static Statx FileStatus(SafeFileHandle file, string displayPath)
        {
            if (StatxAt(file, string.Empty, AT_EMPTY_PATH, StatxFields, out var buffer) != 0)
            {
                throw CreateExceptionForLastErrno("statx", displayPath);
            }

            return buffer;
        }

        /// <summary>lstat equivalent: a final symbolic link is described, not followed.</summary>
        internal static Statx LinkStatus(string path)
        {
            if (StatxAt(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, StatxFields, out var buffer) != 0)
            {
                throw CreateExceptionForLastErrno("statx", path);
            }

            return buffer;
        }

        /// <summary>fstatat(dir, name, AT_SYMLINK_NOFOLLOW) equivalent.</summary>
        internal static Statx LinkStatusAt(SafeFileHandle directory, string name, string displayPath)
        {
            if (StatxAt(directory, name, AT_SYMLINK_NOFOLLOW, StatxFields, out var buffer) != 0)
            {
                throw CreateExceptionForLastErrno("statx", displayPath);
            }

            return buffer;
        }

        /// <summary>glibc's makedev encoding, so device numbers equal what stat(2) and stat(1) report.</summary>
        internal static ulong MakeDevice(uint major, uint minor) =>
            (((ulong)major & 0xFFFFF000) << 32) | (((ulong)major & 0x00000FFF) << 8) |
            (((ulong)minor & 0xFFFFFF00) << 12) | ((ulong)minor & 0x000000FF);
    }
}
