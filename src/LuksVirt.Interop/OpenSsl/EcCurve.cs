using System.Security.Cryptography;

namespace LuksVirt.Interop.OpenSsl;

/// <summary>The NIST prime curves JOSE names P-256, P-384 and P-521 (Tang's default).</summary>
public enum EcCurveName
{
    P256,
    P384,
    P521,
}

/// <summary>
/// Point arithmetic on one NIST curve through libcrypto: the operations Tang's McCallum-Relyea
/// exchange is made of (scalar times the generator, scalar times any point, addition,
/// subtraction), which .NET's ECDiffieHellman does not offer. Scalars and result points stay in
/// OpenSSL's memory (secure BIGNUMs, cleansed points) until they are disposed; only
/// <see cref="ExportCoordinates"/> copies a point out, into spans the caller chose (a
/// SecretBuffer when the point is a shared secret). Every input point is checked to lie on the
/// curve. One instance per thread: each call uses its own scratch context, but the instance is
/// not meant to be shared.
/// </summary>
public sealed class EcCurve : IDisposable
{
    private readonly SafeEcGroupHandle _group;
    private readonly SafeBigNumHandle _order;

    private EcCurve(EcCurveName name, SafeEcGroupHandle group, SafeBigNumHandle order, int coordinateLength)
    {
        Name = name;
        _group = group;
        _order = order;
        CoordinateLength = coordinateLength;
    }

    public EcCurveName Name { get; }

    /// <summary>Bytes in one coordinate as JOSE writes it (32, 48, 66): the field size, rounded up.</summary>
    public int CoordinateLength { get; }

    public static EcCurve Open(EcCurveName name)
    {
        var nid = name switch
        {
            EcCurveName.P256 => Interop.OpenSsl.NidPrime256V1,
            EcCurveName.P384 => Interop.OpenSsl.NidSecp384R1,
            EcCurveName.P521 => Interop.OpenSsl.NidSecp521R1,
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, "not a supported curve"),
        };
        var group = OpenSslErrors.ThrowIfInvalid(Interop.OpenSsl.EcGroupNewByCurveName(nid), "EC_GROUP_new_by_curve_name");
        SafeBigNumHandle? order = null;
        try
        {
            order = NewBigNum();
            using var context = NewContext();
            if (Interop.OpenSsl.EcGroupGetOrder(group, order, context) != 1)
            {
                throw OpenSslErrors.Create("EC_GROUP_get_order");
            }

            var degree = Interop.OpenSsl.EcGroupGetDegree(group);
            return new EcCurve(name, group, order, (degree + 7) / 8);
        }
        catch
        {
            order?.Dispose();
            group.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The point with affine coordinates <paramref name="x"/> and <paramref name="y"/> (big-endian,
    /// exactly <see cref="CoordinateLength"/> bytes each, as RFC 7518 requires of a JWK). Throws
    /// <see cref="CryptographicException"/> when they are not a point on this curve: a point off
    /// the curve would let whoever chose it learn about the scalars it is multiplied with.
    /// </summary>
    public unsafe EcPoint ImportPoint(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y)
    {
        ObjectDisposedException.ThrowIf(_group.IsClosed, this);
        if (x.Length != CoordinateLength || y.Length != CoordinateLength)
        {
            throw new CryptographicException($"a {Describe(Name)} coordinate is {CoordinateLength} bytes, not {x.Length} and {y.Length}");
        }

        using var context = NewContext();
        using var bigX = NewBigNum();
        using var bigY = NewBigNum();
        fixed (byte* xBytes = x)
        fixed (byte* yBytes = y)
        {
            if (Interop.OpenSsl.BigNumFromBinary(xBytes, x.Length, bigX) == 0 || Interop.OpenSsl.BigNumFromBinary(yBytes, y.Length, bigY) == 0)
            {
                throw OpenSslErrors.Create("BN_bin2bn");
            }
        }

        var point = NewPoint();
        try
        {
            // OpenSSL 3 refuses coordinates off the curve here already; the explicit check below
            // keeps that guarantee whatever the library version does.
            if (Interop.OpenSsl.EcPointSetAffineCoordinates(_group, point, bigX, bigY, context) != 1
                || Interop.OpenSsl.EcPointIsOnCurve(_group, point, context) != 1)
            {
                OpenSslErrors.Discard();
                throw new CryptographicException($"the coordinates are not a point on {Describe(Name)}");
            }

            return new EcPoint(point);
        }
        catch
        {
            point.Dispose();
            throw;
        }
    }

    /// <summary>A fresh private scalar, uniform in [1, n-1], from OpenSSL's private DRBG.</summary>
    public EcScalar GenerateScalar()
    {
        ObjectDisposedException.ThrowIf(_group.IsClosed, this);
        var scalar = NewBigNum();
        try
        {
            do
            {
                if (Interop.OpenSsl.BigNumPrivateRandomRange(scalar, _order) != 1)
                {
                    throw OpenSslErrors.Create("BN_priv_rand_range");
                }
            }
            while (Interop.OpenSsl.BigNumIsZero(scalar) == 1);

            return new EcScalar(scalar);
        }
        catch
        {
            scalar.Dispose();
            throw;
        }
    }

    /// <summary><paramref name="scalar"/> times the curve's generator: a public key.</summary>
    public EcPoint MultiplyGenerator(EcScalar scalar)
    {
        ArgumentNullException.ThrowIfNull(scalar);
        return Compute("EC_POINT_mul", (result, context) => Interop.OpenSsl.EcPointMultiplyGenerator(_group, result, scalar.Handle, 0, 0, context));
    }

    /// <summary><paramref name="scalar"/> times <paramref name="point"/>: a Diffie-Hellman exchange.</summary>
    public EcPoint Multiply(EcPoint point, EcScalar scalar)
    {
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(scalar);
        return Compute("EC_POINT_mul", (result, context) => Interop.OpenSsl.EcPointMultiplyPoint(_group, result, 0, point.Handle, scalar.Handle, context));
    }

    public EcPoint Add(EcPoint left, EcPoint right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        return Compute("EC_POINT_add", (result, context) => Interop.OpenSsl.EcPointAdd(_group, result, left.Handle, right.Handle, context));
    }

    /// <summary><paramref name="left"/> minus <paramref name="right"/>: the sum with the negation.</summary>
    public EcPoint Subtract(EcPoint left, EcPoint right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        return Compute("EC_POINT_add", (result, context) =>
            Interop.OpenSsl.EcPointCopy(result, right.Handle) == 1
            && Interop.OpenSsl.EcPointInvert(_group, result, context) == 1
            && Interop.OpenSsl.EcPointAdd(_group, result, left.Handle, result, context) == 1 ? 1 : 0);
    }

    public bool IsInfinity(EcPoint point)
    {
        ArgumentNullException.ThrowIfNull(point);
        ObjectDisposedException.ThrowIf(_group.IsClosed, this);
        return Interop.OpenSsl.EcPointIsAtInfinity(_group, point.Handle) == 1;
    }

    /// <summary>
    /// Writes the affine coordinates of <paramref name="point"/> big-endian, left-padded to
    /// <see cref="CoordinateLength"/> bytes each, straight into <paramref name="x"/> and
    /// <paramref name="y"/> (the only copies outside OpenSSL). The point at infinity has none:
    /// <see cref="CryptographicException"/>.
    /// </summary>
    public unsafe void ExportCoordinates(EcPoint point, Span<byte> x, Span<byte> y)
    {
        ArgumentNullException.ThrowIfNull(point);
        ObjectDisposedException.ThrowIf(_group.IsClosed, this);
        if (x.Length != CoordinateLength || y.Length != CoordinateLength)
        {
            throw new ArgumentException($"a {Describe(Name)} coordinate needs {CoordinateLength} bytes", nameof(x));
        }

        if (IsInfinity(point))
        {
            throw new CryptographicException("the point at infinity has no coordinates");
        }

        using var context = NewContext();
        using var bigX = NewBigNum();
        using var bigY = NewBigNum();
        if (Interop.OpenSsl.EcPointGetAffineCoordinates(_group, point.Handle, bigX, bigY, context) != 1)
        {
            throw OpenSslErrors.Create("EC_POINT_get_affine_coordinates");
        }

        fixed (byte* xBytes = x)
        fixed (byte* yBytes = y)
        {
            if (Interop.OpenSsl.BigNumToBinaryPadded(bigX, xBytes, x.Length) != x.Length
                || Interop.OpenSsl.BigNumToBinaryPadded(bigY, yBytes, y.Length) != y.Length)
            {
                throw OpenSslErrors.Create("BN_bn2binpad");
            }
        }
    }

    public void Dispose()
    {
        _order.Dispose();
        _group.Dispose();
    }

    /// <summary>The JOSE name ("P-521").</summary>
    public static string Describe(EcCurveName name) => name switch
    {
        EcCurveName.P256 => "P-256",
        EcCurveName.P384 => "P-384",
        EcCurveName.P521 => "P-521",
        _ => name.ToString(),
    };

    private EcPoint Compute(string function, Func<SafeEcPointHandle, SafeBigNumContextHandle, int> operation)
    {
        ObjectDisposedException.ThrowIf(_group.IsClosed, this);
        using var context = NewContext();
        var result = NewPoint();
        try
        {
            if (operation(result, context) != 1)
            {
                throw OpenSslErrors.Create(function);
            }

            return new EcPoint(result);
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    private SafeEcPointHandle NewPoint() => OpenSslErrors.ThrowIfInvalid(Interop.OpenSsl.EcPointNew(_group), "EC_POINT_new");

    private static SafeBigNumHandle NewBigNum() => OpenSslErrors.ThrowIfInvalid(Interop.OpenSsl.BigNumSecureNew(), "BN_secure_new");

    private static SafeBigNumContextHandle NewContext() => OpenSslErrors.ThrowIfInvalid(Interop.OpenSsl.BigNumContextSecureNew(), "BN_CTX_secure_new");
}

/// <summary>A point on an <see cref="EcCurve"/>, in OpenSSL's memory and cleansed on dispose.</summary>
public sealed class EcPoint : IDisposable
{
    internal EcPoint(SafeEcPointHandle handle) => Handle = handle;

    internal SafeEcPointHandle Handle { get; }

    public void Dispose() => Handle.Dispose();
}

/// <summary>A private scalar: a secure BIGNUM that never leaves OpenSSL and is zeroed on dispose.</summary>
public sealed class EcScalar : IDisposable
{
    internal EcScalar(SafeBigNumHandle handle) => Handle = handle;

    internal SafeBigNumHandle Handle { get; }

    public void Dispose() => Handle.Dispose();

    public override string ToString() => "EcScalar";
}
