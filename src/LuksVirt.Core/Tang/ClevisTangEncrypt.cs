using System.Security.Cryptography;
using System.Text;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Tang;

/// <summary>
/// Writes a key into a JWE as <c>clevis encrypt tang</c> does, so that <c>clevis decrypt</c> (and
/// <see cref="ClevisTangDecrypt"/>) open it with the server's help: ECDH-ES with the
/// advertisement's first exchange key, A256GCM, and the protected header clevis writes (alg, enc,
/// epk, kid as the SHA-256 thumbprint, clevis.pin "tang", clevis.tang.url and .adv). The
/// advertisement must already be trusted by the caller (a thumbprint checked with
/// <see cref="TangAdvertisement.RequireSignedBy"/>, or confirmed by the administrator).
/// </summary>
internal static class ClevisTangEncrypt
{
    public static ClevisJwe Encrypt(SecretBuffer key, TangServerUrl server, TangAdvertisement trustedAdvertisement)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(trustedAdvertisement);
        var exchangeKey = trustedAdvertisement.ExchangeKey;
        using var sharedX = McCallumRelyea.Provision(exchangeKey, out var ephemeralKey);
        var header = new ClevisJweHeaderDocument
        {
            Alg = "ECDH-ES",
            Clevis = new ClevisPinDocument
            {
                Pin = ClevisTangBinding.PinName,
                Tang = new ClevisTangDocument { Adv = trustedAdvertisement.KeySet, Url = server.Text },
            },
            Enc = ConcatKdf.A256Gcm,
            Epk = ephemeralKey.ToDocument(),
            Kid = ClevisTangBinding.KeyIdOf(exchangeKey),
        };

        var protectedSegment = ClevisJwe.EncodeProtectedHeader(header);
        var iv = RandomNumberGenerator.GetBytes(ClevisJwe.IvBytes);
        var ciphertext = new byte[key.Length];
        var tag = new byte[ClevisJwe.TagBytes];
        using (var contentKey = ConcatKdf.DeriveA256GcmKey(sharedX.Span))
        using (var aes = new AesGcm(contentKey.Span, ClevisJwe.TagBytes))
        {
            aes.Encrypt(iv, key.Span, ciphertext, tag, Encoding.ASCII.GetBytes(protectedSegment));
        }

        return ClevisJwe.Create(protectedSegment, header, iv, ciphertext, tag);
    }
}
