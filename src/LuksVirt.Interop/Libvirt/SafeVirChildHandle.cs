using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop.Libvirt;

/// <summary>A libvirt object that belongs to a connection (<c>virDomainPtr</c>,
/// <c>virSecretPtr</c>): it holds a reference on the connection handle, so the connection cannot
/// be closed while the object is in use.</summary>
internal abstract class SafeVirChildHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private SafeVirConnectHandle? _connection;

    protected SafeVirChildHandle() : base(ownsHandle: true)
    {
    }

    /// <summary>Called once, right after the handle was obtained from <paramref name="connection"/>.</summary>
    internal void KeepAlive(SafeVirConnectHandle connection)
    {
        var added = false;
        connection.DangerousAddRef(ref added);
        _connection = connection;
    }

    /// <summary>The library's own free function (virDomainFree, virSecretFree).</summary>
    protected abstract int Free(nint pointer);

    protected override bool ReleaseHandle()
    {
        var freed = Free(handle) >= 0;
        _connection?.DangerousRelease();
        return freed;
    }
}
