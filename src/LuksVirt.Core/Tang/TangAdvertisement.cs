using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LuksVirt.Interop.OpenSsl;

namespace LuksVirt.Core.Tang;

/// <summary>
/// A Tang server's advertisement (<c>GET /adv</c>), verified: a JWS whose payload is the JWK Set
/// of the server's public keys, signed by each of its signing keys (those with key_ops
/// <c>verify</c>). As clevis-encrypt-tang requires, every signing key listed must have signed it
/// (ES256/ES384/ES512 by curve), so a set with a key added by someone else is refused. A
/// verified advertisement is not yet trusted: <see cref="RequireSignedBy"/> checks it against a
/// thumbprint the administrator knows, or the administrator trusts the advertisement as given.
/// </summary>
internal sealed class TangAdvertisement
{
    private const string VerifyOperation = "verify";
    private const string DeriveKeyOperation = "deriveKey";

    private readonly IReadOnlyList<JwsSignatureDocument> _signatures;
    private readonly byte[] _payloadAscii;

    private TangAdvertisement(byte[] jws, JsonElement keySet, IReadOnlyList<EcPublicJwk> signingKeys, EcPublicJwk exchangeKey, IReadOnlyList<JwsSignatureDocument> signatures, byte[] payloadAscii)
    {
        Jws = jws;
        KeySet = keySet;
        SigningKeys = signingKeys;
        ExchangeKey = exchangeKey;
        _signatures = signatures;
        _payloadAscii = payloadAscii;
    }

    /// <summary>The advertisement as received (the JWS JSON): what <c>clevis encrypt</c> accepts as <c>adv</c>.</summary>
    public byte[] Jws { get; }

    /// <summary>The payload as the server wrote it: what clevis puts in a JWE as <c>adv</c>.</summary>
    public JsonElement KeySet { get; }

    public IReadOnlyList<EcPublicJwk> SigningKeys { get; }

    /// <summary>The first key with key_ops <c>deriveKey</c>: the one clevis binds to.</summary>
    public EcPublicJwk ExchangeKey { get; }

    /// <summary>The signing keys' SHA-256 thumbprints: what an administrator compares with the
    /// server's (<c>tang-show-keys</c>, or <c>jose jwk thp</c> on the server's key files).</summary>
    public IReadOnlyList<string> SigningKeyThumbprints => [.. SigningKeys.Select(k => k.Thumbprint(HashAlgorithmName.SHA256))];

    /// <summary>Parses and verifies an advertisement (flattened or general JWS JSON). Throws
    /// <see cref="TangAdvertisementException"/> when it is malformed or a signature is missing or
    /// does not verify.</summary>
    public static TangAdvertisement Parse(ReadOnlySpan<byte> json, string source)
    {
        JwsDocument? jws;
        try
        {
            jws = JsonSerializer.Deserialize(json, JoseJsonContext.Default.JwsDocument);
        }
        catch (JsonException e)
        {
            throw new TangAdvertisementException($"the advertisement from {source} is not JSON: {e.Message}", e);
        }

        if (jws?.Payload is not { } payload)
        {
            throw new TangAdvertisementException($"the advertisement from {source} is not a JWS (no payload)");
        }

        var signatures = jws.Signatures ?? [];
        if (jws.Protected is not null || jws.Signature is not null)
        {
            signatures = [.. signatures, new JwsSignatureDocument { Protected = jws.Protected, Signature = jws.Signature }];
        }

        var keySet = DecodeKeySet(payload, source, out var keys);
        var signingKeys = new List<EcPublicJwk>();
        EcPublicJwk? exchangeKey = null;
        for (var i = 0; i < keys.Count; i++)
        {
            var key = ReadKey(keys[i], i, source);
            if (key.Allows(VerifyOperation))
            {
                signingKeys.Add(key);
            }

            if (key.Allows(DeriveKeyOperation))
            {
                exchangeKey ??= key;
            }
        }

        if (signingKeys.Count == 0)
        {
            throw new TangAdvertisementException($"the advertisement from {source} lists no signing key: it cannot be verified");
        }

        if (exchangeKey is null)
        {
            throw new TangAdvertisementException($"the advertisement from {source} lists no exchange key (key_ops deriveKey)");
        }

        var payloadAscii = Encoding.ASCII.GetBytes(payload);
        foreach (var signingKey in signingKeys)
        {
            if (!signatures.Any(signature => Verifies(signingKey, signature, payloadAscii)))
            {
                throw new TangAdvertisementException(
                    $"the advertisement from {source} is not signed by its signing key {signingKey.Thumbprint(HashAlgorithmName.SHA256)}: it was altered or is not from a Tang server; fetch it again from the server itself");
            }
        }

        return new TangAdvertisement(json.ToArray(), keySet, signingKeys, exchangeKey, signatures, payloadAscii);
    }

    /// <summary>
    /// True when <paramref name="key"/> signed this advertisement, even though the key set does not
    /// list it: Tang signs the current advertisement also with a rotated (hidden) signing key when
    /// asked for <c>/adv/THP</c> of that key, which is how a binding made under the old key learns
    /// to trust the new keys.
    /// </summary>
    public bool IsVouchedForBy(EcPublicJwk key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _signatures.Any(signature => Verifies(key, signature, _payloadAscii));
    }

    /// <summary>The signing keys (key_ops <c>verify</c>) of a JWK Set a clevis JWE carries as <c>adv</c>.</summary>
    public static IReadOnlyList<EcPublicJwk> SigningKeysOf(JsonElement keySet)
    {
        var signing = new List<EcPublicJwk>();
        foreach (var document in keySet.Deserialize(JoseJsonContext.Default.JwkSetDocument)?.Keys ?? [])
        {
            try
            {
                var key = EcPublicJwk.FromDocument(document);
                if (key.Allows(VerifyOperation))
                {
                    signing.Add(key);
                }
            }
            catch (FormatException)
            {
                // Another entry: only signing keys matter here.
            }
        }

        return signing;
    }

    /// <summary>True when one of the signing keys has <paramref name="thumbprint"/> (SHA-256 or SHA-1).</summary>
    public bool IsSignedBy(string thumbprint) => SigningKeys.Any(k => k.HasThumbprint(thumbprint));

    /// <summary>Throws <see cref="TangUntrustedAdvertisementException"/> unless one of the signing
    /// keys has <paramref name="thumbprint"/>.</summary>
    public void RequireSignedBy(string thumbprint, string source)
    {
        if (!IsSignedBy(thumbprint))
        {
            throw new TangUntrustedAdvertisementException(
                $"the advertisement from {source} is not signed by the trusted key {EcPublicJwk.Printable(thumbprint)} (it is signed by {string.Join(", ", SigningKeyThumbprints)}): check the thumbprint with the server's administrator (`tang-show-keys` on the server, or `jose jwk thp -i KEY.jwk` in its key directory); if the server's keys were rotated, use the new thumbprint");
        }
    }

    /// <summary>Finds the key a clevis JWE's <c>kid</c> names in the JWK Set it carries.</summary>
    public static EcPublicJwk? FindKey(JsonElement keySet, string thumbprint)
    {
        if (keySet.Deserialize(JoseJsonContext.Default.JwkSetDocument)?.Keys is not { } keys)
        {
            return null;
        }

        foreach (var document in keys)
        {
            try
            {
                var key = EcPublicJwk.FromDocument(document);
                if (key.HasThumbprint(thumbprint))
                {
                    return key;
                }
            }
            catch (FormatException)
            {
                // Only the named key matters; another entry clevis would skip as well.
            }
        }

        return null;
    }

    private static JsonElement DecodeKeySet(string payload, string source, out List<JwkDocument> keys)
    {
        try
        {
            var keySet = Compact(Base64Url.DecodeFromChars(payload));
            keys = keySet.Deserialize(JoseJsonContext.Default.JwkSetDocument)?.Keys
                ?? throw new TangAdvertisementException($"the advertisement from {source} has no JWK Set (\"keys\") in its payload");
            return keySet;
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
        {
            throw new TangAdvertisementException($"the payload of the advertisement from {source} is not a JWK Set: {e.Message}", e);
        }
    }

    /// <summary>The JSON without insignificant whitespace, as jose writes it into a JWE's
    /// header (Tang's own payload has spaces after its colons and commas).</summary>
    private static JsonElement Compact(byte[] json)
    {
        using var document = JsonDocument.Parse(json);
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(output))
        {
            document.RootElement.WriteTo(writer);
        }

        using var compact = JsonDocument.Parse(output.WrittenMemory);
        return compact.RootElement.Clone();
    }

    private static EcPublicJwk ReadKey(JwkDocument document, int index, string source)
    {
        try
        {
            return EcPublicJwk.FromDocument(document);
        }
        catch (FormatException e)
        {
            throw new TangAdvertisementException($"key {index} of the advertisement from {source}: {e.Message}", e);
        }
    }

    private static bool Verifies(EcPublicJwk key, JwsSignatureDocument signature, byte[] payloadAscii)
    {
        if (signature.Protected is not { } protectedHeader || signature.Signature is not { } encodedSignature)
        {
            return false;
        }

        try
        {
            var header = JsonSerializer.Deserialize(Base64Url.DecodeFromChars(protectedHeader), JoseJsonContext.Default.JwsHeaderDocument);
            var (expectedAlg, hash) = key.Curve switch
            {
                EcCurveName.P256 => ("ES256", HashAlgorithmName.SHA256),
                EcCurveName.P384 => ("ES384", HashAlgorithmName.SHA384),
                _ => ("ES512", HashAlgorithmName.SHA512),
            };
            if (header?.Alg != expectedAlg)
            {
                return false;
            }

            // The signing input is ASCII(protected) '.' ASCII(payload) (RFC 7515 section 5.2).
            var signingInput = new byte[protectedHeader.Length + 1 + payloadAscii.Length];
            Encoding.ASCII.GetBytes(protectedHeader, signingInput);
            signingInput[protectedHeader.Length] = (byte)'.';
            payloadAscii.CopyTo(signingInput, protectedHeader.Length + 1);

            using var ecdsa = ECDsa.Create(key.ToEcParameters());
            return ecdsa.VerifyData(signingInput, Base64Url.DecodeFromChars(encodedSignature), hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
        catch (Exception e) when (e is FormatException or JsonException or CryptographicException)
        {
            return false;
        }
    }
}
