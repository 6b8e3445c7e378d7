using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop.OpenSsl;

/// <summary>An <c>EC_GROUP</c>: the curve's parameters.</summary>
internal sealed class SafeEcGroupHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeEcGroupHandle() : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle()
    {
        Interop.OpenSsl.EcGroupFree(handle);
        return true;
    }
}

/// <summary>An <c>EC_POINT</c>, cleansed when freed. A point refers only to its curve's static
/// method table, never to the <c>EC_GROUP</c> it was made with, so it may outlive the group.</summary>
internal sealed class SafeEcPointHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeEcPointHandle() : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle()
    {
        Interop.OpenSsl.EcPointClearFree(handle);
        return true;
    }
}

/// <summary>A secure <c>BIGNUM</c>, zeroed by BN_clear_free.</summary>
internal sealed class SafeBigNumHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeBigNumHandle() : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle()
    {
        Interop.OpenSsl.BigNumClearFree(handle);
        return true;
    }
}

/// <summary>A secure <c>BN_CTX</c>: scratch space for one operation, its temporaries cleansed.</summary>
internal sealed class SafeBigNumContextHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeBigNumContextHandle() : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle()
    {
        Interop.OpenSsl.BigNumContextFree(handle);
        return true;
    }
}
