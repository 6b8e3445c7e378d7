using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const short POLLIN = 0x1;
        internal const int EFD_CLOEXEC = 0x80000;

        /// <summary>read(2) on a terminal that hung up (its other side closed).</summary>
        internal const int EIO = 5;

        /// <summary>struct pollfd.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct PollDescriptor
        {
            internal int Descriptor;
            internal short Events;
            internal short ReturnedEvents;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "poll", SetLastError = true)]
        internal static unsafe partial int Poll(PollDescriptor* descriptors, nuint count, int timeoutMilliseconds);

        [LibraryImport(Libraries.Libc, EntryPoint = "eventfd", SetLastError = true)]
        internal static partial int EventFd(uint initialValue, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "read", SetLastError = true)]
        internal static unsafe partial nint ReadRaw(SafeFileHandle file, byte* buffer, nuint count);
    }
}
