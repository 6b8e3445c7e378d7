using System.Runtime.InteropServices;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libvirt
    {
        /// <summary>Fills <paramref name="secrets"/> with a malloc'd array of new references.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectListAllSecrets")]
        internal static partial int ConnectListAllSecrets(SafeVirConnectHandle connection, out nint secrets, uint flags);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virSecretDefineXML", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial SafeVirSecretHandle SecretDefineXml(SafeVirConnectHandle connection, string xml, uint flags);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virSecretLookupByUUIDString", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial SafeVirSecretHandle SecretLookupByUuidString(SafeVirConnectHandle connection, string uuid);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virSecretLookupByUsage", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial SafeVirSecretHandle SecretLookupByUsage(SafeVirConnectHandle connection, int usageType, string usageId);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virSecretFree")]
        internal static partial int SecretFree(nint secret);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virSecretGetUUIDString")]
        internal static unsafe partial int SecretGetUuidString(SafeVirSecretHandle secret, byte* buffer);

        /// <summary>Returns the virSecretUsageType, or -1.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virSecretGetUsageType")]
        internal static partial int SecretGetUsageType(SafeVirSecretHandle secret);

        /// <summary>Returns a string the secret object owns (null for usage 'none'): never free it.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virSecretGetUsageID")]
        internal static partial nint SecretGetUsageId(SafeVirSecretHandle secret);

        /// <summary>Returns a string the caller frees.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virSecretGetXMLDesc")]
        internal static partial nint SecretGetXmlDesc(SafeVirSecretHandle secret, uint flags);

        /// <summary>Takes a raw pointer so the value is read in place from pinned memory, never copied.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virSecretSetValue")]
        internal static unsafe partial int SecretSetValue(SafeVirSecretHandle secret, byte* value, nuint valueSize, uint flags);

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virSecretUndefine")]
        internal static partial int SecretUndefine(SafeVirSecretHandle secret);
    }
}
