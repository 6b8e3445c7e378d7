using System.Security.Cryptography;
using LuksVirt.Interop.OpenSsl;

namespace LuksVirt.Tests.Tang;

/// <summary>Shamir's scheme over clevis's prime field, without servers: any t of n shares give
/// the secret, fewer do not, altered shares are refused or give another number.</summary>
public sealed class SssArithmeticTests
{
    private const int Length = 32;

    [Fact]
    public void Any_three_of_five_shares_give_the_constant_term_and_two_do_not()
    {
        var prime = new byte[Length];
        ShamirPrimeField.GeneratePrime(prime);
        var coefficients = new byte[3 * Length];
        ShamirPrimeField.GenerateCoefficients(prime, coefficients);
        var shares = Enumerable.Range(0, 5).Select(_ =>
        {
            var point = new byte[2 * Length];
            ShamirPrimeField.EvaluateAtRandomPoint(prime, coefficients, point);
            return point;
        }).ToArray();

        foreach (var subset in new[] { new[] { 0, 1, 2 }, [4, 2, 0], [1, 3, 4], [0, 1, 2, 3, 4] })
        {
            Assert.Equal(coefficients[..Length], Recover(prime, subset.Select(i => shares[i])));
        }

        Assert.NotEqual(coefficients[..Length], Recover(prime, [shares[0], shares[1]]));
        Assert.True((prime[0] & 0x80) != 0 && (prime[^1] & 1) == 1, "a 256-bit odd prime, as clevis makes");
    }

    [Fact]
    public void Shares_with_the_same_x_or_a_coordinate_above_the_prime_are_refused()
    {
        var prime = new byte[Length];
        ShamirPrimeField.GeneratePrime(prime);
        var coefficients = new byte[2 * Length];
        ShamirPrimeField.GenerateCoefficients(prime, coefficients);
        var share = new byte[2 * Length];
        ShamirPrimeField.EvaluateAtRandomPoint(prime, coefficients, share);
        var oversized = (byte[])share.Clone();
        oversized.AsSpan(Length).Fill(0xFF);

        Assert.Throws<CryptographicException>(() => Recover(prime, [share, share]));
        Assert.Throws<CryptographicException>(() => Recover(prime, [oversized, share]));
    }

    private static byte[] Recover(byte[] prime, IEnumerable<byte[]> shares)
    {
        var secret = new byte[Length];
        ShamirPrimeField.Recover(prime, shares.SelectMany(s => s).ToArray(), secret);
        return secret;
    }
}
