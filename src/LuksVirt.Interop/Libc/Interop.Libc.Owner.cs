using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "fchownat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int FchownAt(SafeFileHandle directory, string path, uint uid, uint gid, int flags);

        /// <summary>struct passwd (LP64): name, password, uid, gid, gecos, home, shell.</summary>
        [StructLayout(LayoutKind.Explicit, Size = 48)]
        internal struct Passwd
        {
            [FieldOffset(16)] internal uint Uid;
            [FieldOffset(20)] internal uint Gid;
        }

        /// <summary>struct group (LP64): name, password, gid, members.</summary>
        [StructLayout(LayoutKind.Explicit, Size = 32)]
        internal struct Group
        {
            [FieldOffset(16)] internal uint Gid;
        }

        // The *_r variants return the error number instead of setting errno; the result pointer is
        // NULL when the name is unknown.
        [LibraryImport(Libraries.Libc, EntryPoint = "getpwnam_r", StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int GetpwnamR(string name, Passwd* entry, byte* buffer, nuint length, Passwd** result);

        [LibraryImport(Libraries.Libc, EntryPoint = "getgrnam_r", StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int GetgrnamR(string name, Group* entry, byte* buffer, nuint length, Group** result);

        // getpwnam(3) lists these as "name not found" besides a NULL result with 0.
        private static bool MeansNotFound(int error) =>
            error is 0 or Errno.ENOENT or Errno.ESRCH or Errno.EBADF or Errno.EPERM;

        private const int InitialLookupBuffer = 1024;
        private const int MaxLookupBuffer = 1024 * 1024;

        internal static unsafe uint? LookupUserId(string name)
        {
            for (var size = InitialLookupBuffer; size <= MaxLookupBuffer; size *= 2)
            {
                var buffer = new byte[size];
                Passwd entry;
                Passwd* result;
                int error;
                fixed (byte* b = buffer)
                {
                    error = GetpwnamR(name, &entry, b, (nuint)size, &result);
                }

                if (error == Errno.ERANGE)
                {
                    continue;
                }

                if (result is not null)
                {
                    return entry.Uid;
                }

                return MeansNotFound(error) ? null : throw CreateException(error, "getpwnam_r", name);
            }

            throw CreateException(Errno.ERANGE, "getpwnam_r", name);
        }

        internal static unsafe uint? LookupGroupId(string name)
        {
            for (var size = InitialLookupBuffer; size <= MaxLookupBuffer; size *= 2)
            {
                var buffer = new byte[size];
                Group entry;
                Group* result;
                int error;
                fixed (byte* b = buffer)
                {
                    error = GetgrnamR(name, &entry, b, (nuint)size, &result);
                }

                if (error == Errno.ERANGE)
                {
                    continue;
                }

                if (result is not null)
                {
                    return entry.Gid;
                }

                return MeansNotFound(error) ? null : throw CreateException(error, "getgrnam_r", name);
            }

            throw CreateException(Errno.ERANGE, "getgrnam_r", name);
        }
    }
}
