using System.Security.Cryptography;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Tang;

/// <summary>
/// Opens a JWE written by <c>clevis encrypt tang</c> (or <see cref="ClevisTangEncrypt"/>): one
/// McCallum-Relyea recovery with the server the JWE names, then ECDH-ES key derivation and
/// AES-256-GCM. The recovered point, the derived key and the plaintext live only in
/// SecretBuffers (and OpenSSL's cleansed memory) and are zeroed; a failure leaves no key behind.
/// </summary>
internal static class ClevisTangDecrypt
{
    public static async Task<SecretBuffer> DecryptAsync(ClevisJwe jwe, TangClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(jwe);
        ArgumentNullException.ThrowIfNull(client);
        var binding = ClevisTangBinding.Read(jwe);
        if (jwe.Ciphertext.Length > SecretBuffer.MaxKeyLength)
        {
            // Refused before any request: no server is asked for a JWE that cannot hold a key.
            throw new ClevisJweException($"the JWE holds {jwe.Ciphertext.Length} bytes, more than the largest key ({SecretBuffer.MaxKeyLength} bytes)");
        }

        using var recovery = BeginRecovery(binding);
        var reply = await client.RecoverAsync(binding.Server, binding.KeyId, recovery.Request, cancellationToken).ConfigureAwait(false);
        return Open(jwe, binding, recovery, reply);
    }

    private static McCallumRelyea.Recovery BeginRecovery(ClevisTangBinding binding)
    {
        try
        {
            return new McCallumRelyea.Recovery(binding.EphemeralKey, binding.ServerKey);
        }
        catch (CryptographicException e)
        {
            throw new ClevisJweException($"the JWE's keys are not points on their curve: the JWE was altered ({e.Message})", e);
        }
    }

    /// <summary>Synchronous on purpose: the spans of the secrets never cross an await.</summary>
    private static SecretBuffer Open(ClevisJwe jwe, ClevisTangBinding binding, McCallumRelyea.Recovery recovery, EcPublicJwk reply)
    {
        SecretBuffer sharedX;
        try
        {
            sharedX = recovery.Complete(reply);
        }
        catch (CryptographicException e)
        {
            throw new TangProtocolException($"the Tang server {binding.Server} answered the recovery with a point that gives no key (off the curve, or the point at infinity): it is not a Tang server or is broken", e);
        }

        using (sharedX)
        using (var contentKey = ConcatKdf.DeriveA256GcmKey(sharedX.Span))
        {
            return jwe.Open(contentKey.Span, $"the key recovered with the Tang server {binding.Server} does not open the JWE: the JWE was altered, or the server is not the one it was made for");
        }
    }
}
