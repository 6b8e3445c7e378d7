using System.Runtime.InteropServices;
using LuksVirt.Interop.OpenSsl;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    /// <summary>Raw libcrypto (OpenSSL 3) big numbers, /usr/include/openssl/bn.h. Every BIGNUM
    /// here is created "secure" and freed with BN_clear_free, which zeroes its digits: scalars and
    /// coordinates of shared points pass through them.</summary>
    internal static partial class OpenSsl
    {
        /// <summary>A BIGNUM flagged BN_FLG_SECURE: its digits (and their growth) come from
        /// OpenSSL's secure allocator and are cleansed when freed.</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_secure_new")]
        internal static partial SafeBigNumHandle BigNumSecureNew();

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_clear_free")]
        internal static partial void BigNumClearFree(nint number);

        /// <summary>Big-endian bytes into <paramref name="target"/> (returned, or NULL on failure).</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_bin2bn")]
        internal static unsafe partial nint BigNumFromBinary(byte* bytes, int length, SafeBigNumHandle target);

        /// <summary>Big-endian bytes, left-padded with zeros to exactly <paramref name="length"/>;
        /// -1 when the number does not fit.</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_bn2binpad")]
        internal static unsafe partial int BigNumToBinaryPadded(SafeBigNumHandle number, byte* bytes, int length);

        /// <summary>A uniform number in [0, range) from the private DRBG.</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_priv_rand_range")]
        internal static partial int BigNumPrivateRandomRange(SafeBigNumHandle result, SafeBigNumHandle range);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_is_zero")]
        internal static partial int BigNumIsZero(SafeBigNumHandle number);

        /// <summary>Its temporaries are secure BIGNUMs, cleansed when the context is freed.</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_CTX_secure_new")]
        internal static partial SafeBigNumContextHandle BigNumContextSecureNew();

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_CTX_free")]
        internal static partial void BigNumContextFree(nint context);
    }
}
