using System.Runtime.InteropServices;
using LuksVirt.Interop.OpenSsl;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    /// <summary>Raw libcrypto (OpenSSL 3) modular arithmetic, /usr/include/openssl/bn.h: what
    /// Shamir's secret sharing over a prime field needs (clevis's sss pin). Calls return 1 on
    /// success and 0 on failure, with the reason on OpenSSL's thread-local error queue.</summary>
    internal static partial class OpenSsl
    {
        /// <summary>A random prime of <paramref name="bits"/> bits; a safe prime ((p-1)/2 prime)
        /// when <paramref name="safe"/> is 1, as clevis-encrypt-sss asks. add, rem and the
        /// callback are NULL.</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_generate_prime_ex")]
        internal static partial int BigNumGeneratePrime(SafeBigNumHandle result, int bits, int safe, nint add, nint remainder, nint callback);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_set_word")]
        internal static partial int BigNumSetWord(SafeBigNumHandle number, ulong word);

        /// <summary>-1, 0 or 1 as a is less than, equal to or greater than b.</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_cmp")]
        internal static partial int BigNumCompare(SafeBigNumHandle a, SafeBigNumHandle b);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_mod_add")]
        internal static partial int BigNumModAdd(SafeBigNumHandle result, SafeBigNumHandle a, SafeBigNumHandle b, SafeBigNumHandle modulus, SafeBigNumContextHandle context);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_mod_sub")]
        internal static partial int BigNumModSub(SafeBigNumHandle result, SafeBigNumHandle a, SafeBigNumHandle b, SafeBigNumHandle modulus, SafeBigNumContextHandle context);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_mod_mul")]
        internal static partial int BigNumModMul(SafeBigNumHandle result, SafeBigNumHandle a, SafeBigNumHandle b, SafeBigNumHandle modulus, SafeBigNumContextHandle context);

        /// <summary>The inverse into <paramref name="result"/> (returned), or NULL when there is none.</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "BN_mod_inverse")]
        internal static partial nint BigNumModInverse(SafeBigNumHandle result, SafeBigNumHandle a, SafeBigNumHandle modulus, SafeBigNumContextHandle context);
    }
}
