using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int AF_NETLINK = 16;
        internal const int SOCK_RAW = 3;
        internal const int SOCK_CLOEXEC = 0x80000;
        internal const int NETLINK_KOBJECT_UEVENT = 15;
        internal const int SOL_SOCKET = 1;
        internal const int SO_RCVBUF = 8;
        internal const int SO_RCVBUFFORCE = 33;

        /// <summary>The kernel's uevent multicast group (udevd re-broadcasts on group 2).</summary>
        internal const uint UeventKernelGroup = 1;

        /// <summary>struct sockaddr_nl.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct SockaddrNetlink
        {
            internal ushort Family;
            internal ushort Padding;
            internal uint PortId;
            internal uint Groups;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "socket", SetLastError = true)]
        internal static partial int Socket(int domain, int type, int protocol);

        [LibraryImport(Libraries.Libc, EntryPoint = "bind", SetLastError = true)]
        internal static partial int Bind(SafeSocketHandle socket, in SockaddrNetlink address, uint addressLength);

        [LibraryImport(Libraries.Libc, EntryPoint = "setsockopt", SetLastError = true)]
        internal static partial int SetSocketOption(SafeSocketHandle socket, int level, int name, in int value, uint valueLength);
    }
}
