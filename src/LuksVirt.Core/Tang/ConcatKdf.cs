using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Tang;

/// <summary>
/// The key derivation of JWE's ECDH-ES in direct mode (RFC 7518 section 4.6.2, NIST SP 800-56A
/// Concat KDF with SHA-256) for <c>enc</c> A256GCM: one SHA-256 round over the counter 1, the
/// shared x-coordinate Z, the algorithm ID "A256GCM", empty PartyUInfo and PartyVInfo (clevis sets
/// no apu/apv) and the key length in bits. The output is the JWE's content encryption key.
/// </summary>
internal static class ConcatKdf
{
    public const string A256Gcm = "A256GCM";
    public const int A256GcmKeyBytes = 32;

    public static SecretBuffer DeriveA256GcmKey(ReadOnlySpan<byte> sharedX)
    {
        Span<byte> field = stackalloc byte[sizeof(uint)];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        AppendUInt32(hash, field, 1);
        hash.AppendData(sharedX);
        AppendUInt32(hash, field, (uint)A256Gcm.Length);
        hash.AppendData(Encoding.ASCII.GetBytes(A256Gcm));
        AppendUInt32(hash, field, 0);
        AppendUInt32(hash, field, 0);
        AppendUInt32(hash, field, A256GcmKeyBytes * 8);

        var key = SecretBuffer.Allocate(A256GcmKeyBytes);
        try
        {
            if (!hash.TryGetHashAndReset(key.WritableSpan, out var written) || written != A256GcmKeyBytes)
            {
                throw new CryptographicException("SHA-256 did not give 32 bytes");
            }

            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static void AppendUInt32(IncrementalHash hash, Span<byte> field, uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(field, value);
        hash.AppendData(field);
    }
}
