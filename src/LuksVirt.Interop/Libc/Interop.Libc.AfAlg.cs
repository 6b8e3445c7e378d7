using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int AfAlg = 38;
        internal const int SockSeqpacket = 5;

        [LibraryImport(Libraries.Libc, EntryPoint = "socket", SetLastError = true)]
        internal static partial int SocketForAlg(int domain, int type, int protocol);

        [LibraryImport(Libraries.Libc, EntryPoint = "close", SetLastError = true)]
        internal static partial int CloseDescriptor(int fd);
    }
}
