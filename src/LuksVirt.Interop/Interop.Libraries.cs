namespace LuksVirt.Interop;

/// <summary>Every native signature lives in this partial class, one nested class per library.</summary>
internal static partial class Interop
{
    /// <summary>Versioned sonames: the ABI we bind to, never the unversioned -dev symlink.</summary>
    internal static class Libraries
    {
        internal const string Libvirt = "libvirt.so.0";
        internal const string Cryptsetup = "libcryptsetup.so.12";
        internal const string Libc = "libc.so.6";

        /// <summary>OpenSSL 3's libcrypto, the library libcryptsetup itself uses for its crypto.</summary>
        internal const string LibCrypto = "libcrypto.so.3";
    }
}
