using System.Runtime.InteropServices;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libvirt
    {
        /// <summary>virDomainEventID.VIR_DOMAIN_EVENT_ID_LIFECYCLE.</summary>
        internal const int DomainEventIdLifecycle = 0;

        [LibraryImport(Libraries.Libvirt, EntryPoint = "virEventRegisterDefaultImpl")]
        internal static partial int EventRegisterDefaultImpl();

        /// <summary>Runs one iteration of the default event loop (blocks in poll).</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virEventRunDefaultImpl")]
        internal static partial int EventRunDefaultImpl();

        /// <summary>Returns a callback id, or -1. <paramref name="freeOpaque"/> runs once libvirt no
        /// longer uses <paramref name="opaque"/>, i.e. after deregistration, not on failure.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectDomainEventRegisterAny")]
        internal static unsafe partial int ConnectDomainEventRegisterAny(
            SafeVirConnectHandle connection,
            nint domain,
            int eventId,
            delegate* unmanaged[Cdecl]<nint, nint, int, int, nint, int> callback,
            nint opaque,
            delegate* unmanaged[Cdecl]<nint, void> freeOpaque);

        /// <summary>Takes the raw connection pointer: a subscription deregisters while it still
        /// holds a reference, even after its connection object was disposed.</summary>
        [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectDomainEventDeregisterAny")]
        internal static partial int ConnectDomainEventDeregisterAny(nint connection, int callbackId);
    }
}
