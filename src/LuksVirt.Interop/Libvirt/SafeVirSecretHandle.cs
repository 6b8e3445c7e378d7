using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Libvirt;

/// <summary>A <c>virSecretPtr</c>; holds a reference on its connection handle so the connection
/// cannot be closed while the secret is in use.</summary>
internal sealed class SafeVirSecretHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private SafeVirConnectHandle? _connection;

    public SafeVirSecretHandle() : base(ownsHandle: true)
    {
    }

    /// <summary>Takes ownership of a pointer libvirt returned inside an array.</summary>
    internal static SafeVirSecretHandle Adopt(nint secret)
    {
        var adopted = new SafeVirSecretHandle();
        adopted.SetHandle(secret);
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
        var freed = Interop.Libvirt.SecretFree(handle) >= 0;
        _connection?.DangerousRelease();
        return freed;
    }
}
