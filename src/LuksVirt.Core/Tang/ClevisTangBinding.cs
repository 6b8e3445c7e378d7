using System.Security.Cryptography;

namespace LuksVirt.Core.Tang;

/// <summary>
/// What a clevis tang JWE says about its server, read from the protected header the way
/// clevis-decrypt-tang reads it: <c>clevis.pin</c> is "tang", alg ECDH-ES and enc A256GCM, <c>clevis.tang.url</c> the server,
/// <c>kid</c> the thumbprint of the exchange key, found in <c>clevis.tang.adv</c> (by SHA-256 or
/// SHA-1 thumbprint), and <c>epk</c> the ephemeral key on the same curve.
/// </summary>
internal sealed class ClevisTangBinding
{
    public const string PinName = "tang";

    private ClevisTangBinding(TangServerUrl server, string keyId, EcPublicJwk serverKey, EcPublicJwk ephemeralKey)
    {
        Server = server;
        KeyId = keyId;
        ServerKey = serverKey;
        EphemeralKey = ephemeralKey;
    }

    public TangServerUrl Server { get; }

    public string KeyId { get; }

    public EcPublicJwk ServerKey { get; }

    public EcPublicJwk EphemeralKey { get; }

    /// <summary><see cref="ClevisJweException"/> naming the member that is wrong or missing.</summary>
    public static ClevisTangBinding Read(ClevisJwe jwe)
    {
        ArgumentNullException.ThrowIfNull(jwe);
        var header = jwe.Header;
        if (header.Clevis?.Pin != PinName)
        {
            throw new ClevisJweException($"the JWE is for the clevis pin '{EcPublicJwk.Printable(header.Clevis?.Pin)}', not 'tang'");
        }

        if (header.Alg != "ECDH-ES" || header.Enc != ConcatKdf.A256Gcm)
        {
            throw new ClevisJweException($"the JWE uses alg '{EcPublicJwk.Printable(header.Alg)}' and enc '{EcPublicJwk.Printable(header.Enc)}'; clevis's tang pin writes ECDH-ES and A256GCM");
        }

        if (header.Clevis.Tang is not { } tang || tang.Adv is not { } keySet)
        {
            throw new ClevisJweException("the JWE lacks the server's advertisement (clevis.tang.adv)");
        }

        if (header.Kid is not { } keyId)
        {
            throw new ClevisJweException("the JWE lacks the server key's thumbprint (kid)");
        }

        TangServerUrl server;
        try
        {
            server = TangServerUrl.Parse(tang.Url);
            TangServerUrl.RequireThumbprint(keyId);
        }
        catch (FormatException e)
        {
            throw new ClevisJweException($"the JWE's clevis.tang member is unusable: {e.Message}", e);
        }

        var serverKey = TangAdvertisement.FindKey(keySet, keyId)
            ?? throw new ClevisJweException($"the JWE's advertisement has no key with the thumbprint {keyId} (kid): the JWE was altered");
        if (!serverKey.Allows(McCallumRelyea.DeriveKey))
        {
            throw new ClevisJweException($"the key {keyId} in the JWE's advertisement is not an exchange key (key_ops deriveKey)");
        }

        EcPublicJwk ephemeralKey;
        try
        {
            ephemeralKey = EcPublicJwk.FromDocument(header.Epk);
        }
        catch (FormatException e)
        {
            throw new ClevisJweException($"the JWE's ephemeral key (epk) is unusable: {e.Message}", e);
        }

        if (ephemeralKey.Curve != serverKey.Curve)
        {
            throw new ClevisJweException("the JWE's ephemeral key (epk) and the server's key are on different curves: the JWE was altered");
        }

        return new ClevisTangBinding(server, keyId, serverKey, ephemeralKey);
    }

    /// <summary>The SHA-256 thumbprint clevis writes as <c>kid</c> for a new binding.</summary>
    public static string KeyIdOf(EcPublicJwk exchangeKey) => exchangeKey.Thumbprint(HashAlgorithmName.SHA256);
}
