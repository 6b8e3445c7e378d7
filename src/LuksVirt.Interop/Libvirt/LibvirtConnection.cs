namespace LuksVirt.Libvirt;

/// <summary>
/// A connection to libvirt (<c>virConnectPtr</c>). Opening one first starts the process-wide
/// <see cref="LibvirtEventLoop"/>, so lifecycle events work on every connection.
/// </summary>
public sealed class LibvirtConnection : IDisposable
{
    public const string DefaultUri = "qemu:///system";

    public static LibvirtConnection Open(string uri = DefaultUri) => throw new NotImplementedException();

    /// <summary>libvirt library version as major*1,000,000 + minor*1,000 + release (virGetVersion).</summary>
    public static ulong LibraryVersion => throw new NotImplementedException();

    public string Uri => throw new NotImplementedException();

    /// <summary>Version of the libvirt daemon (virConnectGetLibVersion).</summary>
    public ulong DaemonVersion => throw new NotImplementedException();

    /// <summary>Version of the hypervisor, e.g. QEMU (virConnectGetVersion).</summary>
    public ulong HypervisorVersion => throw new NotImplementedException();

    /// <summary>e.g. "QEMU" or "Test" (virConnectGetType).</summary>
    public string HypervisorType => throw new NotImplementedException();

    public bool IsAlive => throw new NotImplementedException();

    public IReadOnlyList<LibvirtDomain> ListAllDomains() => throw new NotImplementedException();

    public LibvirtDomain LookupDomainByName(string name) => throw new NotImplementedException();

    public LibvirtDomain? TryLookupDomainByName(string name) => throw new NotImplementedException();

    public LibvirtDomain LookupDomainByUuid(Guid uuid) => throw new NotImplementedException();

    /// <summary>virDomainDefineXML: defines (or redefines) a persistent domain.</summary>
    public LibvirtDomain DefineDomain(string xml) => throw new NotImplementedException();

    /// <summary>virSecretDefineXML. Callers pass ephemeral='yes' private='yes' for keys.</summary>
    public LibvirtSecret DefineSecret(string xml) => throw new NotImplementedException();

    public LibvirtSecret LookupSecretByUuid(Guid uuid) => throw new NotImplementedException();

    public LibvirtSecret? TryLookupSecretByUuid(Guid uuid) => throw new NotImplementedException();

    public LibvirtSecret LookupSecretByUsage(SecretUsageType usageType, string usageId) => throw new NotImplementedException();

    public IReadOnlyList<LibvirtSecret> ListAllSecrets() => throw new NotImplementedException();

    /// <summary>Calls <paramref name="handler"/> (on the event loop thread) for every domain
    /// lifecycle event of this connection until the returned object is disposed.</summary>
    public IDisposable SubscribeDomainLifecycle(Action<DomainLifecycleEvent> handler) => throw new NotImplementedException();

    /// <summary>Waits, without polling, until the domain reaches a state that satisfies
    /// <paramref name="isWanted"/>; subscribes before it reads the current state so no event is
    /// missed. Throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public Task<DomainState> WaitForDomainStateAsync(LibvirtDomain domain, Func<DomainState, bool> isWanted, TimeSpan timeout, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public void Dispose() => throw new NotImplementedException();
}
