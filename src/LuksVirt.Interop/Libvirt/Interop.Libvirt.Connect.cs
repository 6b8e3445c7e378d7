using System.Runtime.InteropServices;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libvirt
    {
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virGetVersion")]
        internal static partial int GetVersion(out CULong libraryVersion, nint type, nint typeVersion);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectOpen", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial SafeVirConnectHandle ConnectOpen(string uri);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectClose")]
        internal static partial int ConnectClose(nint connection);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectGetLibVersion")]
        internal static partial int ConnectGetLibVersion(SafeVirConnectHandle connection, out CULong version);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectGetVersion")]
        internal static partial int ConnectGetVersion(SafeVirConnectHandle connection, out CULong version);

        /// <summary>Returns a static string: never free it.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectGetType")]
        internal static partial nint ConnectGetType(SafeVirConnectHandle connection);

        /// <summary>Returns a string the caller frees.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectGetURI")]
        internal static partial nint ConnectGetUri(SafeVirConnectHandle connection);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectIsAlive")]
        internal static partial int ConnectIsAlive(SafeVirConnectHandle connection);

        /// <summary>Returns 0, 1 when the peer cannot do keepalive, or -1.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectSetKeepAlive")]
        internal static partial int ConnectSetKeepAlive(SafeVirConnectHandle connection, int intervalSeconds, uint count);
    }
}
