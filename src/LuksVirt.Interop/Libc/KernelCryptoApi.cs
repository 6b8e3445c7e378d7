namespace LuksVirt.Interop.Libc;

/// <summary>The kernel's crypto user API (AF_ALG sockets), which libcryptsetup's cipher
/// benchmark relies on.</summary>
public static class KernelCryptoApi
{
    /// <summary>True when an AF_ALG socket can be created (CONFIG_CRYPTO_USER_API).</summary>
    public static bool IsAvailable
    {
        get
        {
            var fd = Interop.Libc.SocketForAlg(Interop.Libc.AfAlg, Interop.Libc.SockSeqpacket, 0);
            if (fd < 0)
            {
                return false;
            }

            _ = Interop.Libc.CloseDescriptor(fd);
            return true;
        }
    }
}
