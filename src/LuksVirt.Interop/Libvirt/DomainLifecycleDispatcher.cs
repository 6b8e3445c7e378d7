using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LuksVirt.Interop.Libvirt;

/// <summary>
/// The lifecycle-event registration of one connection, shared by all its subscribers: libvirt
/// refuses a second registration of the same callback for the same event on a connection
/// ("event callback already tracked"), whatever the opaque pointer. The first subscriber
/// registers (virConnectDomainEventRegisterAny), the last one to leave deregisters.
/// While registered, the dispatcher holds a reference on the connection handle, so it can
/// always deregister, and libvirt holds a GCHandle to it that the free callback releases.
/// </summary>
internal sealed class DomainLifecycleDispatcher(SafeVirConnectHandle connection)
{
    private const int NotRegistered = -1;

    private readonly Lock _gate = new();
    // Copied on write: the event loop thread reads it without taking the lock.
    private volatile Subscription[] _subscriptions = [];
    private int _callbackId = NotRegistered;

    internal IDisposable Subscribe(Action<DomainLifecycleEvent> handler)
    {
        var subscription = new Subscription(this, handler);
        lock (_gate)
        {
            if (_callbackId == NotRegistered)
            {
                Register();
            }

            _subscriptions = [.. _subscriptions, subscription];
        }

        return subscription;
    }

    private void Unsubscribe(Subscription subscription)
    {
        lock (_gate)
        {
            var remaining = Array.FindAll(_subscriptions, s => !ReferenceEquals(s, subscription));
            if (remaining.Length == _subscriptions.Length)
            {
                return;
            }

            _subscriptions = remaining;
            if (remaining.Length == 0)
            {
                Deregister();
            }
        }
    }

    private unsafe void Register()
    {
        var added = false;
        connection.DangerousAddRef(ref added);
        var opaque = GCHandle.Alloc(this);
        var callbackId = Interop.Libvirt.ConnectDomainEventRegisterAny(
            connection, 0, Interop.Libvirt.DomainEventIdLifecycle, &OnLifecycleEvent, GCHandle.ToIntPtr(opaque), &OnOpaqueReleased);
        if (callbackId < 0)
        {
            var error = LibvirtErrors.Create("virConnectDomainEventRegisterAny");
            // libvirt does not call the free callback for a registration that failed.
            opaque.Free();
            connection.DangerousRelease();
            throw error;
        }

        _callbackId = callbackId;
    }

    private void Deregister()
    {
        // The raw pointer: the connection object may be disposed already; our reference keeps
        // the native connection open. A failure means the connection broke and libvirt dropped
        // the callback with it; Dispose has nobody to report that to, so the error is not read.
        _ = Interop.Libvirt.ConnectDomainEventDeregisterAny(connection.DangerousGetHandle(), _callbackId);
        _callbackId = NotRegistered;
        connection.DangerousRelease();
    }

    private void Dispatch(nint domain, int kind, int detail)
    {
        var subscriptions = _subscriptions;
        if (subscriptions.Length == 0)
        {
            return;
        }

        var name = Interop.Libvirt.CopyBorrowedString(Interop.Libvirt.DomainGetName(domain)) ?? string.Empty;
        var lifecycleEvent = new DomainLifecycleEvent(name, ReadUuid(domain), (DomainLifecycleEventKind)kind, detail);
        foreach (var subscription in subscriptions)
        {
            subscription.Deliver(lifecycleEvent);
        }
    }

    private static unsafe Guid ReadUuid(nint domain)
    {
        var buffer = stackalloc byte[Interop.Libvirt.UuidStringBufferLength];
        return Interop.Libvirt.DomainGetUuidString(domain, buffer) < 0
            ? Guid.Empty
            : Interop.Libvirt.ParseUuid(new ReadOnlySpan<byte>(buffer, Interop.Libvirt.UuidStringBufferLength));
    }

    /// <summary>virConnectDomainEventCallback, on the event loop thread. The domain pointer is
    /// borrowed for the duration of the call.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnLifecycleEvent(nint connection, nint domain, int kind, int detail, nint opaque)
    {
        try
        {
            if (GCHandle.FromIntPtr(opaque).Target is DomainLifecycleDispatcher dispatcher)
            {
                dispatcher.Dispatch(domain, kind, detail);
            }
        }
#pragma warning disable CA1031 // An exception must never unwind into libvirt's C frames: the process would die.
        catch (Exception)
#pragma warning restore CA1031
        {
            // Nothing to report to; the event loop must keep running for everyone else.
        }

        return 0;
    }

    /// <summary>virFreeCallback: libvirt no longer references the opaque pointer.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnOpaqueReleased(nint opaque)
    {
        try
        {
            GCHandle.FromIntPtr(opaque).Free();
        }
#pragma warning disable CA1031 // Nothing may unwind into libvirt's C frames.
        catch (Exception)
#pragma warning restore CA1031
        {
            // An invalid handle here would be a bug in this class; leaking beats crashing.
        }
    }

    private sealed class Subscription(DomainLifecycleDispatcher dispatcher, Action<DomainLifecycleEvent> handler) : IDisposable
    {
        private int _disposed;

        internal void Deliver(DomainLifecycleEvent lifecycleEvent)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            try
            {
                handler(lifecycleEvent);
            }
#pragma warning disable CA1031 // One failing handler must not keep the event from the others.
            catch (Exception)
#pragma warning restore CA1031
            {
                // Handlers own their errors (documented on SubscribeDomainLifecycle).
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                dispatcher.Unsubscribe(this);
            }
        }
    }
}
