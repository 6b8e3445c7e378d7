using System.Runtime.InteropServices;
using LuksVirt.Interop.OpenSsl;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    /// <summary>
    /// Raw libcrypto (OpenSSL 3) EVP cipher signatures, /usr/include/openssl/evp.h. The EVP calls
    /// return 1 on success and 0 on failure, with the reason on OpenSSL's thread-local error
    /// queue (not errno), so none needs SetLastError.
    /// </summary>
    internal static partial class OpenSsl
    {
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EVP_CIPHER_CTX_new")]
        internal static partial SafeEvpCipherContextHandle CipherContextNew();

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EVP_CIPHER_CTX_free")]
        internal static partial void CipherContextFree(nint context);

        /// <summary>Static cipher descriptions owned by the library (never freed).</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EVP_aes_128_xts")]
        internal static partial nint Aes128Xts();

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EVP_aes_256_xts")]
        internal static partial nint Aes256Xts();

        /// <summary>EVP_CipherInit_ex: <paramref name="encrypt"/> 1 encrypts, 0 decrypts, -1 keeps
        /// the direction. With cipher and key NULL it only sets a new IV (the key schedule stays).</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EVP_CipherInit_ex")]
        internal static unsafe partial int CipherInit(nint context, nint cipher, nint engine, byte* key, byte* iv, int encrypt);

        /// <summary>EVP_CipherInit_ex with only a new IV, called once per 512-byte sector: a short,
        /// CPU-only call that never blocks or calls back, so the GC transition is skipped.</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EVP_CipherInit_ex")]
        [SuppressGCTransition]
        internal static unsafe partial int CipherSetIv(nint context, nint cipher, nint engine, byte* key, byte* iv, int encrypt);

        /// <summary>EVP_CipherUpdate: for XTS one call is one data unit (one sector).</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EVP_CipherUpdate")]
        [SuppressGCTransition]
        internal static unsafe partial int CipherUpdate(nint context, byte* output, int* outputLength, byte* input, int inputLength);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "ERR_get_error")]
        internal static partial ulong ErrorGet();

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "ERR_error_string_n")]
        internal static unsafe partial void ErrorString(ulong error, byte* buffer, nuint length);
    }
}
