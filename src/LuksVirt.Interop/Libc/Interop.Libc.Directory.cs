using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "getdents64", SetLastError = true)]
        private static unsafe partial nint Getdents64(SafeFileHandle directory, byte* buffer, nuint length);

        [LibraryImport(Libraries.Libc, EntryPoint = "unlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int UnlinkAt(SafeFileHandle directory, string name, int flags);

        // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[].
        private const int DirentRecordLengthOffset = 16;
        private const int DirentNameOffset = 19;

        /// <summary>
        /// Every entry name of the directory, "." and ".." excluded. Names that are not valid UTF-8
        /// come back with U+FFFD in place of the bad bytes: such a name never passes an allow-list,
        /// and it is never opened by the lossy name.
        /// </summary>
        internal static unsafe List<string> ReadDirectoryNames(SafeFileHandle directory, string displayPath)
        {
            // getdents64 reads at the descriptor's file offset, which a dup(2) would share with the
            // caller's handle; a fresh open of "." has its own offset, so listing twice works.
            using var listing = OpenAt(directory, ".", OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY | OpenFlags.O_CLOEXEC, displayPath);
            var names = new List<string>();
            var buffer = new byte[32 * 1024];
            fixed (byte* start = buffer)
            {
                while (true)
                {
                    var filled = Getdents64(listing, start, (nuint)buffer.Length);
                    if (filled < 0)
                    {
                        if (LastErrno == Errno.EINTR)
                        {
                            continue;
                        }

                        throw CreateExceptionForLastErrno("getdents64", displayPath);
                    }

                    if (filled == 0)
                    {
                        return names;
                    }

                    var offset = 0;
                    while (offset < filled)
                    {
                        var recordLength = BitConverter.ToUInt16(buffer, offset + DirentRecordLengthOffset);
                        var name = buffer.AsSpan(offset + DirentNameOffset, recordLength - DirentNameOffset);
                        var end = name.IndexOf((byte)0);
                        if (end >= 0)
                        {
                            name = name[..end];
                        }

                        if (!name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8))
                        {
                            names.Add(Encoding.UTF8.GetString(name));
                        }

                        offset += recordLength;
                    }
                }
            }
        }
    }
}
