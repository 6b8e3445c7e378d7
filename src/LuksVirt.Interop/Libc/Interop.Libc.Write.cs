using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "write", SetLastError = true)]
        private static unsafe partial nint WriteRaw(SafeFileHandle file, byte* buffer, nuint count);

        /// <summary>write(2) until every byte is written, retried on EINTR. On an O_APPEND
        /// descriptor each call appends at the end of the file as it is then.</summary>
        internal static unsafe void WriteAll(SafeFileHandle file, ReadOnlySpan<byte> bytes, string displayPath)
        {
            fixed (byte* start = bytes)
            {
                var done = 0;
                while (done < bytes.Length)
                {
                    var written = WriteRaw(file, start + done, (nuint)(bytes.Length - done));
                    if (written < 0)
                    {
                        var errno = LastErrno;
                        if (errno == Errno.EINTR)
                        {
                            continue;
                        }

                        throw CreateException(errno, "write", displayPath);
                    }

                    done += (int)written;
                }
            }
        }
    }
}
