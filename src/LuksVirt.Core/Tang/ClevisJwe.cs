using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Tang;

/// <summary>
/// A JWE as clevis writes one: no encrypted key (ECDH-ES for tang, "dir" for sss), a 96-bit iv
/// and a 128-bit tag (A256GCM), the pin's configuration in the protected header's <c>clevis</c>. Read from the compact form
/// (<c>clevis encrypt</c>'s output) or the flattened JSON form (a LUKS2 token's <c>jwe</c>), and
/// written in both. Nothing here is secret: the plaintext is only inside the ciphertext.
/// </summary>
internal sealed class ClevisJwe
{
    public const int IvBytes = 12;
    public const int TagBytes = 16;

    /// <summary>Larger than any key clevis or LuksVirt binds (8 MiB) in base64url, and still a
    /// bound on what is decoded from a header or a token.</summary>
    private const int MaxLength = 12 * 1024 * 1024;

    private ClevisJwe(string protectedSegment, ClevisJweHeaderDocument header, byte[] iv, byte[] ciphertext, byte[] tag)
    {
        ProtectedSegment = protectedSegment;
        Header = header;
        Iv = iv;
        Ciphertext = ciphertext;
        Tag = tag;
    }

    /// <summary>The protected header as base64url, exactly as written: the AAD of the cipher.</summary>
    public string ProtectedSegment { get; }

    public ClevisJweHeaderDocument Header { get; }

    public byte[] Iv { get; }

    public byte[] Ciphertext { get; }

    public byte[] Tag { get; }

    /// <summary>The additional authenticated data: ASCII(BASE64URL(protected header)).</summary>
    public byte[] AdditionalData => Encoding.ASCII.GetBytes(ProtectedSegment);

    /// <summary>The protected header as it goes into a new JWE (and, as ASCII, into its AAD).</summary>
    public static string EncodeProtectedHeader(ClevisJweHeaderDocument header) =>
        Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(header, JoseJsonContext.Default.ClevisJweHeaderDocument));

    /// <summary>A new JWE from its parts; <paramref name="protectedSegment"/> is
    /// <see cref="EncodeProtectedHeader"/>'s result for <paramref name="header"/>.</summary>
    public static ClevisJwe Create(string protectedSegment, ClevisJweHeaderDocument header, byte[] iv, byte[] ciphertext, byte[] tag) =>
        new(protectedSegment, header, iv, ciphertext, tag);

    /// <summary>The five dot-separated parts of the compact serialization (trailing whitespace, as
    /// a file or a pipe may add, is ignored). <see cref="ClevisJweException"/> when malformed.</summary>
    public static ClevisJwe ParseCompact(string compact)
    {
        ArgumentNullException.ThrowIfNull(compact);
        compact = compact.TrimEnd();
        if (compact.Length > MaxLength)
        {
            throw new ClevisJweException($"the JWE is larger than {MaxLength} characters");
        }

        var parts = compact.Split('.');
        if (parts.Length != 5)
        {
            throw new ClevisJweException($"a compact JWE has 5 parts separated by dots, this one {parts.Length}");
        }

        return FromParts(parts[0], parts[1], parts[2], parts[3], parts[4]);
    }

    /// <summary>The flattened JSON form clevis keeps in a LUKS2 token's <c>jwe</c> member.</summary>
    public static ClevisJwe ParseFlattened(JsonElement json)
    {
        JweDocument? document;
        try
        {
            document = json.Deserialize(JoseJsonContext.Default.JweDocument);
        }
        catch (JsonException e)
        {
            throw new ClevisJweException($"the JWE is not the JSON of a flattened JWE: {e.Message}", e);
        }

        if (document is null || document.Header is not null || document.Unprotected is not null || document.Aad is not null)
        {
            throw new ClevisJweException("the JWE has unprotected members (header, unprotected or aad), which clevis never writes");
        }

        return FromParts(document.Protected, document.EncryptedKey ?? string.Empty, document.Iv, document.Ciphertext, document.Tag);
    }

    /// <summary>The plaintext, opened with the A256GCM <paramref name="contentKey"/>, in a
    /// SecretBuffer the caller owns. <see cref="ClevisJweException"/> saying
    /// <paramref name="whenAltered"/> when the tag does not verify.</summary>
    public SecretBuffer Open(ReadOnlySpan<byte> contentKey, string whenAltered)
    {
        if (Ciphertext.Length > SecretBuffer.MaxKeyLength)
        {
            throw new ClevisJweException($"the JWE holds {Ciphertext.Length} bytes, more than the largest key ({SecretBuffer.MaxKeyLength} bytes)");
        }

        var plaintext = SecretBuffer.Allocate(Ciphertext.Length);
        try
        {
            using var aes = new AesGcm(contentKey, TagBytes);
            aes.Decrypt(Iv, Ciphertext, Tag, plaintext.WritableSpan, AdditionalData);
            return plaintext;
        }
        catch (CryptographicException e)
        {
            plaintext.Dispose();
            throw new ClevisJweException(whenAltered, e);
        }
        catch
        {
            plaintext.Dispose();
            throw;
        }
    }

    public string ToCompact() => string.Join('.', ProtectedSegment, string.Empty, Base64Url.EncodeToString(Iv), Base64Url.EncodeToString(Ciphertext), Base64Url.EncodeToString(Tag));

    public JweDocument ToFlattened() => new()
    {
        Ciphertext = Base64Url.EncodeToString(Ciphertext),
        EncryptedKey = string.Empty,
        Iv = Base64Url.EncodeToString(Iv),
        Protected = ProtectedSegment,
        Tag = Base64Url.EncodeToString(Tag),
    };

    private static ClevisJwe FromParts(string? protectedSegment, string encryptedKey, string? iv, string? ciphertext, string? tag)
    {
        if (protectedSegment is null || iv is null || ciphertext is null || tag is null)
        {
            throw new ClevisJweException("the JWE lacks one of protected, iv, ciphertext and tag");
        }

        if (encryptedKey.Length != 0)
        {
            throw new ClevisJweException("the JWE has an encrypted key, which clevis never writes (ECDH-ES and dir use none)");
        }

        ClevisJweHeaderDocument header;
        byte[] ivBytes, ciphertextBytes, tagBytes;
        try
        {
            header = JsonSerializer.Deserialize(Base64Url.DecodeFromChars(protectedSegment), JoseJsonContext.Default.ClevisJweHeaderDocument)
                ?? throw new ClevisJweException("the JWE's protected header is null");
            ivBytes = Base64Url.DecodeFromChars(iv);
            ciphertextBytes = Base64Url.DecodeFromChars(ciphertext);
            tagBytes = Base64Url.DecodeFromChars(tag);
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            throw new ClevisJweException($"the JWE is not valid base64url and JSON: {e.Message}", e);
        }

        if (header.Zip is not null)
        {
            throw new ClevisJweException("the JWE is compressed ('zip'), which clevis never does");
        }

        if (ivBytes.Length != IvBytes || tagBytes.Length != TagBytes || ciphertextBytes.Length == 0)
        {
            throw new ClevisJweException($"an A256GCM JWE has a {IvBytes}-byte iv, a {TagBytes}-byte tag and a ciphertext; this one {ivBytes.Length}, {tagBytes.Length} and {ciphertextBytes.Length}");
        }

        return new ClevisJwe(protectedSegment, header, ivBytes, ciphertextBytes, tagBytes);
    }
}
