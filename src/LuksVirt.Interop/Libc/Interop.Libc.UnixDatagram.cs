using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>SO_PASSCRED: the kernel attaches the sender's credentials to every datagram.</summary>
        internal const int SO_PASSCRED = 16;

        /// <summary>The control message type carrying a struct ucred.</summary>
        internal const int SCM_CREDENTIALS = 2;

        internal const int MSG_TRUNC = 0x20;
        internal const int MSG_DONTWAIT = 0x40;
        internal const int MSG_CMSG_CLOEXEC = 0x40000000;

        /// <summary>ioctl FIONREAD: on a datagram socket, the size of the next queued datagram.</summary>
        internal const nuint FIONREAD = 0x541B;

        /// <summary>struct ucred, the payload of SCM_CREDENTIALS.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct UnixCredentials
        {
            internal int ProcessId;
            internal uint UserId;
            internal uint GroupId;
        }

        /// <summary>struct cmsghdr (LP64: size_t length, then level and type).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct ControlMessageHeader
        {
            internal nuint Length;
            internal int Level;
            internal int Type;
        }

        /// <summary>struct iovec.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct IoVector
        {
            internal byte* Base;
            internal nuint Length;
        }

        /// <summary>struct msghdr.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct MessageHeader
        {
            internal void* Name;
            internal uint NameLength;
            internal IoVector* Vectors;
            internal nuint VectorCount;
            internal void* Control;
            internal nuint ControlLength;
            internal int Flags;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "recvmsg", SetLastError = true)]
        internal static unsafe partial nint ReceiveMessage(SafeSocketHandle socket, MessageHeader* message, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        internal static partial int IoctlInt(SafeSocketHandle socket, nuint request, out int value);
    }
}
