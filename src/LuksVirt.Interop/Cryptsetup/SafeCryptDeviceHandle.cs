using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop.Cryptsetup;

/// <summary>Owns one <c>struct crypt_device</c>; released with crypt_free, which also wipes the
/// volume key a context may have cached (after crypt_format).</summary>
internal sealed class SafeCryptDeviceHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeCryptDeviceHandle() : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle()
    {
        Interop.Cryptsetup.Free(handle);
        return true;
    }
}
