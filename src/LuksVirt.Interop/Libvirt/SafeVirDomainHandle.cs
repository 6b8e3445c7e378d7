namespace LuksVirt.Interop.Libvirt;

/// <summary>A <c>virDomainPtr</c>.</summary>
internal sealed class SafeVirDomainHandle : SafeVirChildHandle
{
    /// <summary>Takes ownership of a pointer libvirt returned inside an array.</summary>
    internal static SafeVirDomainHandle Adopt(nint domain)
    {
        var adopted = new SafeVirDomainHandle();
        adopted.SetHandle(domain);
        return adopted;
    }

    protected override int Free(nint pointer) => Interop.Libvirt.DomainFree(pointer);
}
