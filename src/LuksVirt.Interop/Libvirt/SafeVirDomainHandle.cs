using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Libvirt;

/// <summary>A <c>virDomainPtr</c>; holds a reference on its connection handle so the connection
/// cannot be closed while the domain is in use.</summary>
internal sealed class SafeVirDomainHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private SafeVirConnectHandle? _connection;

    public SafeVirDomainHandle() : base(ownsHandle: true)
    {
    }

    /// <summary>Takes ownership of a pointer libvirt returned inside an array.</summary>
    internal static SafeVirDomainHandle Adopt(nint domain)
    {
        var adopted = new SafeVirDomainHandle();
        adopted.SetHandle(domain);
        return adopted;
    }

    /// <summary>Called once, right after the handle was obtained from <paramref name="connection"/>.</summary>
    internal void KeepAlive(SafeVirConnectHandle connection)
    {
        var added = false;
        connection.DangerousAddRef(ref added);
        _connection = connection;
    }

    protected override bool ReleaseHandle()
    {
        var freed = Interop.Libvirt.DomainFree(handle) >= 0;
        _connection?.DangerousRelease();
        return freed;
    }
}
