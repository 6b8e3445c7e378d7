using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop.OpenSsl;

/// <summary>An <c>EVP_CIPHER_CTX</c>. EVP_CIPHER_CTX_free cleanses the key schedule it holds.</summary>
internal sealed class SafeEvpCipherContextHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeEvpCipherContextHandle() : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle()
    {
        Interop.OpenSsl.CipherContextFree(handle);
        return true;
    }
}
