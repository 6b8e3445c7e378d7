using System.Runtime.InteropServices;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libvirt
    {
        /// <summary>virDomainXMLFlags.VIR_DOMAIN_XML_INACTIVE.</summary>
        internal const uint DomainXmlInactive = 1 << 1;

        /// <summary>virDomainUndefineFlagsValues.</summary>
        internal const uint DomainUndefineManagedSave = 1 << 0;
        internal const uint DomainUndefineSnapshotsMetadata = 1 << 1;
        internal const uint DomainUndefineNvram = 1 << 2;
        internal const uint DomainUndefineCheckpointsMetadata = 1 << 4;

        /// <summary>Fills <paramref name="domains"/> with a malloc'd array of new references.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectListAllDomains")]
        internal static partial int ConnectListAllDomains(SafeVirConnectHandle connection, out nint domains, uint flags);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainLookupByName", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial SafeVirDomainHandle DomainLookupByName(SafeVirConnectHandle connection, string name);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainLookupByUUIDString", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial SafeVirDomainHandle DomainLookupByUuidString(SafeVirConnectHandle connection, string uuid);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainDefineXML", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial SafeVirDomainHandle DomainDefineXml(SafeVirConnectHandle connection, string xml);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainFree")]
        internal static partial int DomainFree(nint domain);

        /// <summary>Returns a string the domain object owns: never free it.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainGetName")]
        internal static partial nint DomainGetName(SafeVirDomainHandle domain);

        /// <summary>For the borrowed pointer an event callback receives.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainGetName")]
        internal static partial nint DomainGetName(nint domain);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainGetUUIDString")]
        internal static unsafe partial int DomainGetUuidString(SafeVirDomainHandle domain, byte* buffer);

        /// <summary>For the borrowed pointer an event callback receives.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainGetUUIDString")]
        internal static unsafe partial int DomainGetUuidString(nint domain, byte* buffer);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainGetState")]
        internal static partial int DomainGetState(SafeVirDomainHandle domain, out int state, out int reason, uint flags);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainIsActive")]
        internal static partial int DomainIsActive(SafeVirDomainHandle domain);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainIsPersistent")]
        internal static partial int DomainIsPersistent(SafeVirDomainHandle domain);

        /// <summary>Returns a string the caller frees.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainGetXMLDesc")]
        internal static partial nint DomainGetXmlDesc(SafeVirDomainHandle domain, uint flags);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainGetAutostart")]
        internal static partial int DomainGetAutostart(SafeVirDomainHandle domain, out int autostart);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainSetAutostart")]
        internal static partial int DomainSetAutostart(SafeVirDomainHandle domain, int autostart);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainUndefineFlags")]
        internal static partial int DomainUndefineFlags(SafeVirDomainHandle domain, uint flags);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainCreate")]
        internal static partial int DomainCreate(SafeVirDomainHandle domain);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainShutdown")]
        internal static partial int DomainShutdown(SafeVirDomainHandle domain);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainDestroy")]
        internal static partial int DomainDestroy(SafeVirDomainHandle domain);
    }
}
