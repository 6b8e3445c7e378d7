using System.Security.Cryptography;
using LuksVirt.Interop.OpenSsl;

namespace LuksVirt.Tests.OpenSsl;

/// <summary>
/// The libcrypto point arithmetic behind Tang's exchange, checked against .NET's own ECDH (an
/// independent code path: EVP_PKEY derive) and against the group laws the exchange relies on.
/// </summary>
public sealed class EcCurveTests
{
    public static TheoryData<EcCurveName> Curves => [EcCurveName.P256, EcCurveName.P384, EcCurveName.P521];

    [Theory]
    [MemberData(nameof(Curves))]
    public void Multiplying_a_dotnet_public_key_gives_the_dotnet_shared_secret(EcCurveName name)
    {
        using var curve = EcCurve.Open(name);
        using var dotnet = ECDiffieHellman.Create(DotnetCurve(name));
        var dotnetPublic = dotnet.ExportParameters(includePrivateParameters: false).Q;

        using var scalar = curve.GenerateScalar();
        using var ours = curve.MultiplyGenerator(scalar);
        using var theirs = curve.ImportPoint(dotnetPublic.X, dotnetPublic.Y);
        using var shared = curve.Multiply(theirs, scalar);
        var (sharedX, _) = Coordinates(curve, shared);
        var (ourX, ourY) = Coordinates(curve, ours);
        using var ourKey = ECDiffieHellman.Create(new ECParameters { Curve = DotnetCurve(name), Q = new ECPoint { X = ourX, Y = ourY } });
        var expected = dotnet.DeriveRawSecretAgreement(ourKey.PublicKey);

        Assert.Equal(expected, sharedX);
        Assert.Equal(curve.CoordinateLength, sharedX.Length);
    }

    [Theory]
    [MemberData(nameof(Curves))]
    public void The_blinding_of_a_recovery_cancels_out(EcCurveName name)
    {
        // K = cS must equal s(C + eG) - eS: the McCallum-Relyea identity.
        using var curve = EcCurve.Open(name);
        using var s = curve.GenerateScalar();
        using var c = curve.GenerateScalar();
        using var e = curve.GenerateScalar();
        using var server = curve.MultiplyGenerator(s);
        using var ephemeral = curve.MultiplyGenerator(c);
        using var expected = curve.Multiply(server, c);
        using var blind = curve.MultiplyGenerator(e);
        using var request = curve.Add(ephemeral, blind);
        using var reply = curve.Multiply(request, s);
        using var unblind = curve.Multiply(server, e);
        using var recovered = curve.Subtract(reply, unblind);

        Assert.Equal(Hex(curve, expected), Hex(curve, recovered));
    }

    [Fact]
    public void A_point_minus_itself_is_infinity_which_has_no_coordinates()
    {
        using var curve = EcCurve.Open(EcCurveName.P521);
        using var scalar = curve.GenerateScalar();
        using var point = curve.MultiplyGenerator(scalar);
        using var zero = curve.Subtract(point, point);

        Assert.True(curve.IsInfinity(zero));
        Assert.False(curve.IsInfinity(point));
        Assert.Throws<CryptographicException>(() => Coordinates(curve, zero));
    }

    [Fact]
    public void Coordinates_off_the_curve_are_refused()
    {
        using var curve = EcCurve.Open(EcCurveName.P521);
        using var scalar = curve.GenerateScalar();
        using var point = curve.MultiplyGenerator(scalar);
        var (x, y) = Coordinates(curve, point);
        y[^1] ^= 0x01;

        var refusal = Assert.Throws<CryptographicException>(() => curve.ImportPoint(x, y));
        Assert.Contains("not a point on P-521", refusal.Message, StringComparison.Ordinal);
        Assert.Throws<CryptographicException>(() => curve.ImportPoint(x.AsSpan(1), y));
    }

    [Fact]
    public void Fresh_scalars_differ()
    {
        using var curve = EcCurve.Open(EcCurveName.P256);
        using var a = curve.GenerateScalar();
        using var b = curve.GenerateScalar();
        using var pointA = curve.MultiplyGenerator(a);
        using var pointB = curve.MultiplyGenerator(b);

        Assert.NotEqual(Hex(curve, pointA), Hex(curve, pointB));
    }

    private static (byte[] X, byte[] Y) Coordinates(EcCurve curve, EcPoint point)
    {
        var x = new byte[curve.CoordinateLength];
        var y = new byte[curve.CoordinateLength];
        curve.ExportCoordinates(point, x, y);
        return (x, y);
    }

    private static string Hex(EcCurve curve, EcPoint point)
    {
        var (x, y) = Coordinates(curve, point);
        return Convert.ToHexStringLower(x) + Convert.ToHexStringLower(y);
    }

    private static ECCurve DotnetCurve(EcCurveName name) => name switch
    {
        EcCurveName.P256 => ECCurve.NamedCurves.nistP256,
        EcCurveName.P384 => ECCurve.NamedCurves.nistP384,
        _ => ECCurve.NamedCurves.nistP521,
    };
}
