using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libvirt
    {
        /// <summary>The leading fields of libvirt's <c>virError</c> (virterror.h); we only ever read
        /// through a pointer libvirt owns, so the trailing fields need not be declared.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct Error
        {
            internal int Code;
            internal int Domain;
            internal nint Message;
            internal int Level;
        }

        /// <summary>virErrorNumber values the bindings act on.</summary>
        internal static class ErrorNumber
        {
            internal const int Ok = 0;
            internal const int NoSupport = 3;
            internal const int NoConnect = 5;
            internal const int InvalidConnection = 6;
            internal const int InvalidArgument = 8;
            internal const int SystemError = 38;
            internal const int Rpc = 39;
            internal const int NoDomain = 42;
            internal const int OperationInvalid = 55;
            internal const int NoSecret = 66;
        }

        /// <summary>virErrorDomain values: which part of libvirt raised an error.</summary>
        internal static class ErrorDomain
        {
            internal const int Rpc = 7;
            internal const int Remote = 13;
            internal const int Ssh = 50;
            internal const int Libssh = 66;
        }

        /// <summary>The calling thread's last error, or null; owned by libvirt.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virGetLastError")]
        internal static unsafe partial Error* GetLastError();

        /// <summary>Process-wide error callback; a null handler makes libvirt print to stderr.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virSetErrorFunc")]
        internal static unsafe partial void SetErrorFunc(nint userData, delegate* unmanaged[Cdecl]<nint, Error*, void> handler);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virInitialize")]
        internal static partial int Initialize();
    }
}
