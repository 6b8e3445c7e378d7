using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using LuksVirt.Interop.OpenSsl;

namespace LuksVirt.Core.Tang;

/// <summary>
/// The public half of an EC key in JWK form (RFC 7518 section 6.2): a server's signing or
/// exchange key, a JWE's ephemeral key, a recovery request or reply. Coordinates are public; a
/// JWK that carries a private part ("d") is refused wherever one of these is read.
/// </summary>
internal sealed class EcPublicJwk
{
    private readonly string _x;
    private readonly string _y;

    private EcPublicJwk(EcCurveName curve, string x, string y, IReadOnlyList<string> keyOps, string? alg)
    {
        Curve = curve;
        _x = x;
        _y = y;
        KeyOps = keyOps;
        Alg = alg;
    }

    public EcCurveName Curve { get; }

    public IReadOnlyList<string> KeyOps { get; }

    public string? Alg { get; }

    /// <summary>Reads an EC public key. <see cref="FormatException"/> (naming what is wrong) for
    /// another key type or curve, a private part, or coordinates of the wrong size.</summary>
    public static EcPublicJwk FromDocument(JwkDocument? document)
    {
        if (document is null)
        {
            throw new FormatException("the key is missing");
        }

        if (document.Kty != "EC")
        {
            throw new FormatException($"the key type is '{Printable(document.Kty)}', not 'EC'");
        }

        if (document.D is not null)
        {
            throw new FormatException("the key carries a private part ('d'), which is never published");
        }

        var curve = ParseCurve(document.Crv);
        var length = CoordinateLength(curve);
        if (document.X is not { } x || document.Y is not { } y || DecodedLength(x) != length || DecodedLength(y) != length)
        {
            throw new FormatException($"the coordinates are not two base64url values of {length} bytes ({EcCurve.Describe(curve)})");
        }

        return new EcPublicJwk(curve, x, y, document.KeyOps ?? [], document.Alg);
    }

    /// <summary>The coordinates of <paramref name="point"/> (a public point) as a JWK.</summary>
    public static EcPublicJwk FromPoint(EcCurve curve, EcPoint point, IReadOnlyList<string> keyOps, string? alg)
    {
        ArgumentNullException.ThrowIfNull(curve);
        var x = new byte[curve.CoordinateLength];
        var y = new byte[curve.CoordinateLength];
        curve.ExportCoordinates(point, x, y);
        return new EcPublicJwk(curve.Name, Base64Url.EncodeToString(x), Base64Url.EncodeToString(y), keyOps, alg);
    }

    public static EcCurveName ParseCurve(string? name) => name switch
    {
        "P-256" => EcCurveName.P256,
        "P-384" => EcCurveName.P384,
        "P-521" => EcCurveName.P521,
        _ => throw new FormatException($"the curve '{Printable(name)}' is not P-256, P-384 or P-521"),
    };

    public bool Allows(string operation) => KeyOps.Contains(operation, StringComparer.Ordinal);

    /// <summary>The RFC 7638 thumbprint: what Tang names its keys by and clevis's <c>kid</c> and
    /// <c>thp</c> hold. SHA-256 is clevis's default, SHA-1 the older one it still accepts.</summary>
    [SuppressMessage("Security", "CA5350:Do Not Use Weak Cryptographic Algorithms", Justification = "SHA-1 only names a key (a thumbprint older clevis and tang wrote); it is compared, never trusted for integrity, and a key found by it is verified by its use.")]
    public string Thumbprint(HashAlgorithmName hash)
    {
        // The required members in lexicographic order, no whitespace; the values are the key's
        // own strings (curve names and base64url need no escaping).
        var canonical = Encoding.UTF8.GetBytes($"{{\"crv\":\"{EcCurve.Describe(Curve)}\",\"kty\":\"EC\",\"x\":\"{_x}\",\"y\":\"{_y}\"}}");
        var digest = hash == HashAlgorithmName.SHA1 ? SHA1.HashData(canonical) : hash == HashAlgorithmName.SHA256 ? SHA256.HashData(canonical) : throw new ArgumentOutOfRangeException(nameof(hash), hash, "clevis uses SHA-256 or SHA-1 thumbprints");
        return Base64Url.EncodeToString(digest);
    }

    /// <summary>True when <paramref name="thumbprint"/> is this key's SHA-256 or SHA-1 thumbprint,
    /// as clevis matches a <c>kid</c> or <c>thp</c>.</summary>
    public bool HasThumbprint(string thumbprint) =>
        thumbprint == Thumbprint(HashAlgorithmName.SHA256) || thumbprint == Thumbprint(HashAlgorithmName.SHA1);

    public EcPoint ToPoint(EcCurve curve)
    {
        ArgumentNullException.ThrowIfNull(curve);
        if (curve.Name != Curve)
        {
            throw new CryptographicException($"a {EcCurve.Describe(Curve)} key cannot be used on {EcCurve.Describe(curve.Name)}");
        }

        return curve.ImportPoint(Base64Url.DecodeFromChars(_x), Base64Url.DecodeFromChars(_y));
    }

    /// <summary>The public parameters .NET's ECDsa needs to verify a signature.</summary>
    public ECParameters ToEcParameters() => new()
    {
        Curve = Curve switch
        {
            EcCurveName.P256 => ECCurve.NamedCurves.nistP256,
            EcCurveName.P384 => ECCurve.NamedCurves.nistP384,
            _ => ECCurve.NamedCurves.nistP521,
        },
        Q = new ECPoint { X = Base64Url.DecodeFromChars(_x), Y = Base64Url.DecodeFromChars(_y) },
    };

    public JwkDocument ToDocument() => new()
    {
        Alg = Alg,
        Crv = EcCurve.Describe(Curve),
        KeyOps = KeyOps.Count == 0 ? null : [.. KeyOps],
        Kty = "EC",
        X = _x,
        Y = _y,
    };

    /// <summary>Bytes in one coordinate: the field size rounded up to whole bytes.</summary>
    public static int CoordinateLength(EcCurveName curve) => curve switch
    {
        EcCurveName.P256 => 32,
        EcCurveName.P384 => 48,
        _ => 66,
    };

    /// <summary>Text another party wrote, made safe and short for a message.</summary>
    internal static string Printable(string? text) =>
        text is null ? "(none)" : new string([.. text.Where(c => !char.IsControl(c)).Take(64)]);

    private static int DecodedLength(string value)
    {
        var bytes = new byte[Base64Url.GetMaxDecodedLength(value.Length)];
        return Base64Url.TryDecodeFromChars(value, bytes, out var written) ? written : -1;
    }
}
