namespace LuksVirt.Interop.Libvirt;

/// <summary>A <c>virSecretPtr</c>.</summary>
internal sealed class SafeVirSecretHandle : SafeVirChildHandle
{
    /// <summary>Takes ownership of a pointer libvirt returned inside an array.</summary>
    internal static SafeVirSecretHandle Adopt(nint secret)
    {
        var adopted = new SafeVirSecretHandle();
        adopted.SetHandle(secret);
        return adopted;
    }

    protected override int Free(nint pointer) => Interop.Libvirt.SecretFree(pointer);
}
