using System.Security.Cryptography;

namespace LuksVirt.Interop.OpenSsl;

/// <summary>
/// Shamir's secret sharing over a prime field, as clevis's sss pin does it (src/pins/sss/sss.c):
/// numbers are big-endian and exactly as long as the prime's encoding (32 bytes for clevis's
/// 256-bit prime); the secret is the polynomial's constant term, a share is a point x||y.
/// All arithmetic is libcrypto's on secure BIGNUMs (cleansed when freed, temporaries in a secure
/// BN_CTX): coefficients, share values and the recovered secret never become managed
/// BigIntegers; they leave OpenSSL only into spans the caller gives (SecretBuffers).
/// </summary>
public static class ShamirPrimeField
{
    /// <summary>A random safe prime filling <paramref name="prime"/> (its top bit set), as
    /// clevis-encrypt-sss makes one per binding. Public: it goes into the JWE header.</summary>
    public static void GeneratePrime(Span<byte> prime)
    {
        using var p = NewBigNum();
        if (Interop.OpenSsl.BigNumGeneratePrime(p, prime.Length * 8, 1, 0, 0, 0) != 1)
        {
            throw OpenSslErrors.Create("BN_generate_prime_ex");
        }

        Export(p, prime);
    }

    /// <summary>Fills each <paramref name="prime"/>-long element of <paramref name="coefficients"/>
    /// with a uniform number below the prime: a random polynomial whose constant term (the first
    /// element) is the secret.</summary>
    public static void GenerateCoefficients(ReadOnlySpan<byte> prime, Span<byte> coefficients)
    {
        var length = RequireElements(prime, coefficients.Length, "coefficients");
        using var p = Import(prime);
        using var e = NewBigNum();
        for (var offset = 0; offset < coefficients.Length; offset += length)
        {
            if (Interop.OpenSsl.BigNumPrivateRandomRange(e, p) != 1)
            {
                throw OpenSslErrors.Create("BN_priv_rand_range");
            }

            Export(e, coefficients.Slice(offset, length));
        }
    }

    /// <summary>A share: a random non-zero x and y = the polynomial at x, written as x||y into
    /// <paramref name="point"/> (twice the prime's length).</summary>
    public static void EvaluateAtRandomPoint(ReadOnlySpan<byte> prime, ReadOnlySpan<byte> coefficients, Span<byte> point)
    {
        var length = RequireElements(prime, coefficients.Length, "coefficients");
        if (point.Length != 2 * length)
        {
            throw new ArgumentException($"a point is {2 * length} bytes", nameof(point));
        }

        using var context = NewContext();
        using var p = Import(prime);
        using var x = NewBigNum();
        using var y = NewBigNum();
        using var power = NewBigNum();
        using var term = NewBigNum();
        // x = 0 would make the share the secret itself; clevis does not exclude it, but it costs
        // nothing to.
        do
        {
            if (Interop.OpenSsl.BigNumPrivateRandomRange(x, p) != 1)
            {
                throw OpenSslErrors.Create("BN_priv_rand_range");
            }
        }
        while (Interop.OpenSsl.BigNumIsZero(x) == 1);

        SetWord(y, 0);
        SetWord(power, 1);
        for (var offset = 0; offset < coefficients.Length; offset += length)
        {
            // y += e[i] * x^i
            using var e = Import(coefficients.Slice(offset, length));
            Check(Interop.OpenSsl.BigNumModMul(term, e, power, p, context), "BN_mod_mul");
            Check(Interop.OpenSsl.BigNumModAdd(y, y, term, p, context), "BN_mod_add");
            Check(Interop.OpenSsl.BigNumModMul(power, power, x, p, context), "BN_mod_mul");
        }

        Export(x, point[..length]);
        Export(y, point[length..]);
    }

    /// <summary>
    /// The secret (the polynomial at 0) from <paramref name="points"/>, each x||y, by Lagrange
    /// interpolation. Throws <see cref="CryptographicException"/> when a coordinate is not below
    /// the prime or two points share an x: shares that were altered or do not belong together.
    /// </summary>
    public static void Recover(ReadOnlySpan<byte> prime, ReadOnlySpan<byte> points, Span<byte> secret)
    {
        var length = prime.Length;
        if (length == 0 || points.Length == 0 || points.Length % (2 * length) != 0 || secret.Length != length)
        {
            throw new ArgumentException($"points are {2 * length} bytes each and the secret {length}");
        }

        var count = points.Length / (2 * length);
        using var context = NewContext();
        using var p = Import(prime);
        using var k = NewBigNum();
        using var accumulator = NewBigNum();
        using var term = NewBigNum();
        using var zero = NewBigNum();
        SetWord(k, 0);
        SetWord(zero, 0);
        for (var i = 0; i < count; i++)
        {
            using var xo = ImportBelow(points.Slice(i * 2 * length, length), p);
            using var yo = ImportBelow(points.Slice((i * 2 * length) + length, length), p);
            SetWord(accumulator, 1);
            for (var j = 0; j < count; j++)
            {
                if (i == j)
                {
                    continue;
                }

                // accumulator *= (0 - xj) / (xi - xj)
                using var xi = ImportBelow(points.Slice(j * 2 * length, length), p);
                Check(Interop.OpenSsl.BigNumModSub(term, zero, xi, p, context), "BN_mod_sub");
                Check(Interop.OpenSsl.BigNumModMul(accumulator, accumulator, term, p, context), "BN_mod_mul");
                Check(Interop.OpenSsl.BigNumModSub(term, xo, xi, p, context), "BN_mod_sub");
                if (Interop.OpenSsl.BigNumIsZero(term) == 1 || Interop.OpenSsl.BigNumModInverse(term, term, p, context) == 0)
                {
                    OpenSslErrors.Discard();
                    throw new CryptographicException("two shares have the same x: they do not belong to one secret");
                }

                Check(Interop.OpenSsl.BigNumModMul(accumulator, accumulator, term, p, context), "BN_mod_mul");
            }

            // k += accumulator * yi
            Check(Interop.OpenSsl.BigNumModMul(accumulator, accumulator, yo, p, context), "BN_mod_mul");
            Check(Interop.OpenSsl.BigNumModAdd(k, k, accumulator, p, context), "BN_mod_add");
        }

        Export(k, secret);
    }

    private static int RequireElements(ReadOnlySpan<byte> prime, int length, string name)
    {
        if (prime.Length == 0 || length == 0 || length % prime.Length != 0)
        {
            throw new ArgumentException($"{name} are whole numbers of {prime.Length} bytes", name);
        }

        return prime.Length;
    }

    private static SafeBigNumHandle ImportBelow(ReadOnlySpan<byte> bytes, SafeBigNumHandle prime)
    {
        var number = Import(bytes);
        if (Interop.OpenSsl.BigNumCompare(number, prime) >= 0)
        {
            number.Dispose();
            throw new CryptographicException("a share's coordinate is not below the prime: the share was altered");
        }

        return number;
    }

    private static unsafe SafeBigNumHandle Import(ReadOnlySpan<byte> bytes)
    {
        var number = NewBigNum();
        fixed (byte* pointer = bytes)
        {
            if (Interop.OpenSsl.BigNumFromBinary(pointer, bytes.Length, number) == 0)
            {
                number.Dispose();
                throw OpenSslErrors.Create("BN_bin2bn");
            }
        }

        return number;
    }

    private static unsafe void Export(SafeBigNumHandle number, Span<byte> target)
    {
        fixed (byte* pointer = target)
        {
            if (Interop.OpenSsl.BigNumToBinaryPadded(number, pointer, target.Length) != target.Length)
            {
                throw OpenSslErrors.Create("BN_bn2binpad");
            }
        }
    }

    private static void SetWord(SafeBigNumHandle number, ulong word) => Check(Interop.OpenSsl.BigNumSetWord(number, word), "BN_set_word");

    private static void Check(int result, string function)
    {
        if (result != 1)
        {
            throw OpenSslErrors.Create(function);
        }
    }

    private static SafeBigNumHandle NewBigNum() => OpenSslErrors.ThrowIfInvalid(Interop.OpenSsl.BigNumSecureNew(), "BN_secure_new");

    private static SafeBigNumContextHandle NewContext() => OpenSslErrors.ThrowIfInvalid(Interop.OpenSsl.BigNumContextSecureNew(), "BN_CTX_secure_new");
}
