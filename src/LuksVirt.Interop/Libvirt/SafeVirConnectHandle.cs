using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop.Libvirt;

/// <summary>A <c>virConnectPtr</c>. Domains, secrets and event subscriptions hold references on
/// it, so virConnectClose runs only after the last of them is released.</summary>
internal sealed class SafeVirConnectHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeVirConnectHandle() : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle() => Interop.Libvirt.ConnectClose(handle) >= 0;
}
