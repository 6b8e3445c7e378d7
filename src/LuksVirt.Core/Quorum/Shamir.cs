using System.Security.Cryptography;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Quorum;

/// <summary>
/// Shamir's secret sharing over GF(2^8), byte by byte: each byte of the secret is the constant
/// term of a random polynomial of degree k-1, and share x (1..n) holds the polynomial's values at
/// x. Any k shares determine the polynomial (Lagrange interpolation at 0); k-1 shares are
/// consistent with every possible secret, equally often. Coefficients come from the operating
/// system's CSPRNG and, like shares and secrets, live only in <see cref="SecretBuffer"/>.
/// </summary>
internal static class Shamir
{
    public const int MaxShares = 255;

    /// <summary>Splits <paramref name="secret"/> into <paramref name="count"/> shares, share i
    /// (0-based) at x = i + 1. The caller disposes the shares.</summary>
    public static SecretBuffer[] Split(ReadOnlySpan<byte> secret, int threshold, int count) =>
        Split(secret, threshold, count, RandomNumberGenerator.Fill);

    /// <summary>As <see cref="Split(ReadOnlySpan{byte}, int, int)"/> with the coefficients drawn
    /// from <paramref name="fillRandom"/> (tests enumerate them).</summary>
    internal static SecretBuffer[] Split(ReadOnlySpan<byte> secret, int threshold, int count, SpanFiller fillRandom)
    {
        ArgumentNullException.ThrowIfNull(fillRandom);
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(threshold, count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxShares);
        ArgumentOutOfRangeException.ThrowIfZero(secret.Length);

        var shares = new SecretBuffer[count];
        using var coefficients = SecretBuffer.Allocate(threshold - 1);
        try
        {
            for (var i = 0; i < count; i++)
            {
                shares[i] = SecretBuffer.Allocate(secret.Length);
            }

            for (var position = 0; position < secret.Length; position++)
            {
                fillRandom(coefficients.WritableSpan);
                for (var i = 0; i < count; i++)
                {
                    shares[i].WritableSpan[position] = Evaluate(secret[position], coefficients.Span, (byte)(i + 1));
                }
            }
        }
        catch
        {
            foreach (var share in shares)
            {
                share?.Dispose();
            }

            throw;
        }

        return shares;
    }

    /// <summary>The secret from k shares at distinct non-zero <paramref name="xs"/>, all of the same
    /// length. The caller disposes the result.</summary>
    public static SecretBuffer Combine(ReadOnlySpan<byte> xs, IReadOnlyList<SecretBuffer> ys)
    {
        ArgumentNullException.ThrowIfNull(ys);
        if (xs.Length != ys.Count || xs.Length < 2)
        {
            throw new ArgumentException("Combine needs at least two shares, one x per share", nameof(xs));
        }

        var length = ys[0].Length;
        var weights = new byte[xs.Length];
        for (var i = 0; i < xs.Length; i++)
        {
            if (xs[i] == 0 || xs[..i].Contains(xs[i]) || ys[i].Length != length)
            {
                throw new ArgumentException("shares must have distinct non-zero x and equal lengths", nameof(xs));
            }

            weights[i] = LagrangeWeightAtZero(xs, i);
        }

        var secret = SecretBuffer.Allocate(length);
        var output = secret.WritableSpan;
        for (var position = 0; position < length; position++)
        {
            byte value = 0;
            for (var i = 0; i < xs.Length; i++)
            {
                value ^= Gf256.Multiply(weights[i], ys[i].Span[position]);
            }

            output[position] = value;
        }

        return secret;
    }

    /// <summary>Horner's rule: secret + c1 x + c2 x^2 + ...</summary>
    private static byte Evaluate(byte secret, ReadOnlySpan<byte> coefficients, byte x)
    {
        byte value = 0;
        for (var i = coefficients.Length - 1; i >= 0; i--)
        {
            value = (byte)(Gf256.Multiply(value, x) ^ coefficients[i]);
        }

        return (byte)(Gf256.Multiply(value, x) ^ secret);
    }

    /// <summary>The product over j != i of x_j / (x_j - x_i): public, since the xs are.</summary>
    private static byte LagrangeWeightAtZero(ReadOnlySpan<byte> xs, int i)
    {
        byte weight = 1;
        for (var j = 0; j < xs.Length; j++)
        {
            if (j != i)
            {
                weight = Gf256.Multiply(weight, Gf256.Divide(xs[j], (byte)(xs[j] ^ xs[i])));
            }
        }

        return weight;
    }
}

/// <summary>Fills a span with random bytes (<see cref="RandomNumberGenerator.Fill"/>).</summary>
internal delegate void SpanFiller(Span<byte> destination);
