using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LuksVirt.Interop.Libvirt;

/// <summary>
/// A connection to libvirt (<c>virConnectPtr</c>). Opening one first starts the process-wide
/// <see cref="LibvirtEventLoop"/>, so lifecycle events work on every connection.
/// Disposing it does not invalidate domains and secrets obtained from it: they keep the native
/// connection open until they are disposed themselves.
/// </summary>
public sealed class LibvirtConnection : IDisposable
{
    public const string DefaultUri = "qemu:///system";

    // As virsh does: a peer silent for about interval * (count + 1) seconds counts as dead, so
    // calls on a connection to a crashed daemon fail instead of hanging.
    private const int KeepAliveIntervalSeconds = 5;
    private const uint KeepAliveCount = 6;

    private readonly SafeVirConnectHandle _handle;
    private readonly DomainLifecycleDispatcher _lifecycle;
    private int _disposed;

    private LibvirtConnection(SafeVirConnectHandle handle)
    {
        _handle = handle;
        _lifecycle = new DomainLifecycleDispatcher(handle);
    }

    public static LibvirtConnection Open(string uri = DefaultUri)
    {
        ArgumentException.ThrowIfNullOrEmpty(uri);
        LibvirtEventLoop.EnsureStarted();

        var handle = Interop.Libvirt.ConnectOpen(uri);
        if (handle.IsInvalid)
        {
            var error = LibvirtErrors.Create("virConnectOpen", opening: true);
            handle.Dispose();
            throw error;
        }

        if (Interop.Libvirt.ConnectSetKeepAlive(handle, KeepAliveIntervalSeconds, KeepAliveCount) < 0)
        {
            // Local drivers (test://) have no transport to keep alive and say so; anything else is real.
            var error = LibvirtErrors.Create("virConnectSetKeepAlive");
            if (error.Code != Interop.Libvirt.ErrorNumber.NoSupport)
            {
                handle.Dispose();
                throw error;
            }
        }

        return new LibvirtConnection(handle);
    }

    /// <summary>libvirt library version as major*1,000,000 + minor*1,000 + release (virGetVersion).</summary>
    public static ulong LibraryVersion
    {
        get
        {
            LibvirtLibrary.EnsureInitialized();
            if (Interop.Libvirt.GetVersion(out var version, 0, 0) < 0)
            {
                throw LibvirtErrors.Create("virGetVersion");
            }

            return version.Value;
        }
    }

    public string Uri => Interop.Libvirt.TakeOwnedString(Interop.Libvirt.ConnectGetUri(Handle))
        ?? throw LibvirtErrors.Create("virConnectGetURI");

    /// <summary>Version of the libvirt daemon (virConnectGetLibVersion).</summary>
    public ulong DaemonVersion => Interop.Libvirt.ConnectGetLibVersion(Handle, out var version) < 0
        ? throw LibvirtErrors.Create("virConnectGetLibVersion")
        : version.Value;

    /// <summary>Version of the hypervisor, e.g. QEMU (virConnectGetVersion).</summary>
    public ulong HypervisorVersion => Interop.Libvirt.ConnectGetVersion(Handle, out var version) < 0
        ? throw LibvirtErrors.Create("virConnectGetVersion")
        : version.Value;

    /// <summary>e.g. "QEMU" or "Test" (virConnectGetType).</summary>
    public string HypervisorType => Interop.Libvirt.CopyBorrowedString(Interop.Libvirt.ConnectGetType(Handle))
        ?? throw LibvirtErrors.Create("virConnectGetType");

    internal bool IsAlive => Interop.Libvirt.ConnectIsAlive(Handle) switch
    {
        < 0 => throw LibvirtErrors.Create("virConnectIsAlive"),
        0 => false,
        _ => true,
    };

    public IReadOnlyList<LibvirtDomain> ListAllDomains()
    {
        var handle = Handle;
        var count = Interop.Libvirt.ConnectListAllDomains(handle, out var array, flags: 0);
        if (count < 0)
        {
            throw LibvirtErrors.Create("virConnectListAllDomains");
        }

        var domains = new SafeVirDomainHandle[count];
        try
        {
            // Each element is a reference we own: give it an owner before anything can throw.
            for (var i = 0; i < count; i++)
            {
                domains[i] = SafeVirDomainHandle.Adopt(Marshal.ReadIntPtr(array, i * IntPtr.Size));
            }
        }
        finally
        {
            Interop.Libc.Free(array);
        }

        var result = new LibvirtDomain[count];
        for (var i = 0; i < count; i++)
        {
            domains[i].KeepAlive(handle);
            result[i] = new LibvirtDomain(domains[i]);
        }

        return result;
    }

    internal LibvirtDomain LookupDomainByName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var handle = Handle;
        return AdoptDomain(Interop.Libvirt.DomainLookupByName(handle, name), handle, "virDomainLookupByName");
    }

    public LibvirtDomain? TryLookupDomainByName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var handle = Handle;
        var domain = Interop.Libvirt.DomainLookupByName(handle, name);
        if (domain.IsInvalid)
        {
            var error = LibvirtErrors.Create("virDomainLookupByName");
            domain.Dispose();
            return error is DomainNotFoundException ? null : throw error;
        }

        domain.KeepAlive(handle);
        return new LibvirtDomain(domain);
    }

    public LibvirtDomain LookupDomainByUuid(Guid uuid)
    {
        var handle = Handle;
        return AdoptDomain(Interop.Libvirt.DomainLookupByUuidString(handle, Interop.Libvirt.FormatUuid(uuid)), handle, "virDomainLookupByUUIDString");
    }

    /// <summary>virDomainDefineXML: defines (or redefines) a persistent domain.</summary>
    public LibvirtDomain DefineDomain(string xml)
    {
        ArgumentException.ThrowIfNullOrEmpty(xml);
        var handle = Handle;
        return AdoptDomain(Interop.Libvirt.DomainDefineXml(handle, xml), handle, "virDomainDefineXML");
    }

    /// <summary>virSecretDefineXML. Callers pass ephemeral='yes' private='yes' for keys.</summary>
    public LibvirtSecret DefineSecret(string xml)
    {
        ArgumentException.ThrowIfNullOrEmpty(xml);
        var handle = Handle;
        return AdoptSecret(Interop.Libvirt.SecretDefineXml(handle, xml, flags: 0), handle, "virSecretDefineXML");
    }

    internal LibvirtSecret LookupSecretByUuid(Guid uuid)
    {
        var handle = Handle;
        return AdoptSecret(Interop.Libvirt.SecretLookupByUuidString(handle, Interop.Libvirt.FormatUuid(uuid)), handle, "virSecretLookupByUUIDString");
    }

    public LibvirtSecret? TryLookupSecretByUuid(Guid uuid)
    {
        var handle = Handle;
        var secret = Interop.Libvirt.SecretLookupByUuidString(handle, Interop.Libvirt.FormatUuid(uuid));
        if (secret.IsInvalid)
        {
            var error = LibvirtErrors.Create("virSecretLookupByUUIDString");
            secret.Dispose();
            return error is SecretNotFoundException ? null : throw error;
        }

        secret.KeepAlive(handle);
        return new LibvirtSecret(secret);
    }

    internal LibvirtSecret LookupSecretByUsage(SecretUsageType usageType, string usageId)
    {
        ArgumentException.ThrowIfNullOrEmpty(usageId);
        var handle = Handle;
        return AdoptSecret(Interop.Libvirt.SecretLookupByUsage(handle, (int)usageType, usageId), handle, "virSecretLookupByUsage");
    }

    public IReadOnlyList<LibvirtSecret> ListAllSecrets()
    {
        var handle = Handle;
        var count = Interop.Libvirt.ConnectListAllSecrets(handle, out var array, flags: 0);
        if (count < 0)
        {
            throw LibvirtErrors.Create("virConnectListAllSecrets");
        }

        var secrets = new SafeVirSecretHandle[count];
        try
        {
            // Each element is a reference we own: give it an owner before anything can throw.
            for (var i = 0; i < count; i++)
            {
                secrets[i] = SafeVirSecretHandle.Adopt(Marshal.ReadIntPtr(array, i * IntPtr.Size));
            }
        }
        finally
        {
            Interop.Libc.Free(array);
        }

        var result = new LibvirtSecret[count];
        for (var i = 0; i < count; i++)
        {
            secrets[i].KeepAlive(handle);
            result[i] = new LibvirtSecret(secrets[i]);
        }

        return result;
    }

    /// <summary>Calls <paramref name="handler"/> (on the event loop thread) for every domain
    /// lifecycle event of this connection until the returned object is disposed. The handler
    /// must be quick and must not throw: an exception is caught and dropped, since it cannot be
    /// allowed to unwind into libvirt.</summary>
    public IDisposable SubscribeDomainLifecycle(Action<DomainLifecycleEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _ = Handle;
        return _lifecycle.Subscribe(handler);
    }

    /// <summary>Waits, through lifecycle events, until the domain reaches a state that satisfies
    /// <paramref name="isWanted"/>; subscribes before it reads the current state so no event is
    /// missed, and re-reads the state every 2 s in case an event is lost anyway. Throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public Task<DomainState> WaitForDomainStateAsync(LibvirtDomain domain, Func<DomainState, bool> isWanted, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(isWanted);
        return WaitForDomainStateAsync(domain, isWanted, "the awaited state", timeout, cancellationToken);
    }

    /// <summary>Waits, through lifecycle events, until the domain is in <paramref name="wanted"/>.</summary>
    public Task<DomainState> WaitForDomainStateAsync(LibvirtDomain domain, DomainState wanted, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WaitForDomainStateAsync(domain, state => state == wanted, $"state {wanted}", timeout, cancellationToken);

    /// <summary>Releases this object's reference; the native connection closes once the
    /// domains, secrets and subscriptions obtained from it are disposed too.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _handle.Dispose();
        }
    }

    // SafeHandle.IsClosed stays false while children hold references, so track our own disposal.
    private SafeVirConnectHandle Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            return _handle;
        }
    }

    private async Task<DomainState> WaitForDomainStateAsync(LibvirtDomain domain, Func<DomainState, bool> isWanted, string awaited, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domain);
        var name = domain.Name;
        var uuid = domain.Uuid;

        // Completed on the event loop thread; continuations must not run there, or the caller's
        // code would stall every other event (and keepalive) of the process.
        var reached = new TaskCompletionSource<DomainState>(TaskCreationOptions.RunContinuationsAsynchronously);
        DomainState? lastSeen = null;
        using var subscription = SubscribeDomainLifecycle(lifecycleEvent =>
        {
            if (lifecycleEvent.DomainUuid != uuid || lifecycleEvent.ResultingState is not { } state)
            {
                return;
            }

            lastSeen = state;
            try
            {
                if (isWanted(state))
                {
                    reached.TrySetResult(state);
                }
            }
#pragma warning disable CA1031 // The caller's predicate failed: hand its exception to the caller's await.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                reached.TrySetException(exception);
            }
        });

        // Only now read the state: a change after the subscription arrives as an event.
        var current = domain.State;
        if (isWanted(current))
        {
            return current;
        }

        // Events are the signal; a slow re-read of the state is the safety net for an event that
        // never arrives (seen once in a test process: the guest ran, its event never came).
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException(
                    $"domain '{name}' did not reach {awaited} within {timeout.TotalSeconds:0.###} s (state at the start: {current}, last event: {lastSeen?.ToString() ?? "none"})");
            }

            try
            {
                return await reached.Task.WaitAsync(left < StateRecheckInterval ? left : StateRecheckInterval, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // This slice passed without the event: look at the state itself.
            }

            var now = domain.State;
            if (isWanted(now))
            {
                return now;
            }
        }
    }

    private static readonly TimeSpan StateRecheckInterval = TimeSpan.FromSeconds(2);

    private static LibvirtDomain AdoptDomain(SafeVirDomainHandle domain, SafeVirConnectHandle connection, string function)
    {
        if (domain.IsInvalid)
        {
            var error = LibvirtErrors.Create(function);
            domain.Dispose();
            throw error;
        }

        domain.KeepAlive(connection);
        return new LibvirtDomain(domain);
    }

    private static LibvirtSecret AdoptSecret(SafeVirSecretHandle secret, SafeVirConnectHandle connection, string function)
    {
        if (secret.IsInvalid)
        {
            var error = LibvirtErrors.Create(function);
            secret.Dispose();
            throw error;
        }

        secret.KeepAlive(connection);
        return new LibvirtSecret(secret);
    }
}
