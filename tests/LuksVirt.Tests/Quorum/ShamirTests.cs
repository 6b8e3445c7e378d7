using LuksVirt.Core.Quorum;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Tests.Quorum;

/// <summary>GF(2^8) arithmetic and Shamir's split and combine, in memory.</summary>
public sealed class ShamirTests
{
    /// <summary>Schoolbook multiplication with branches, reduced by the AES polynomial: the reference.</summary>
    private static byte ReferenceMultiply(byte a, byte b)
    {
        var product = 0;
        for (var bit = 0; bit < 8; bit++)
        {
            if ((b & (1 << bit)) != 0)
            {
                product ^= a << bit;
            }
        }

        for (var bit = 14; bit >= 8; bit--)
        {
            if ((product & (1 << bit)) != 0)
            {
                product ^= 0x11B << (bit - 8);
            }
        }

        return (byte)product;
    }

    [Fact]
    public void Multiplication_matches_the_reference_for_every_pair_and_the_aes_example()
    {
        // FIPS-197 section 4.2: {57} x {83} = {c1}.
        Assert.Equal(0xC1, Gf256.Multiply(0x57, 0x83));
        for (var a = 0; a < 256; a++)
        {
            for (var b = 0; b < 256; b++)
            {
                Assert.Equal(ReferenceMultiply((byte)a, (byte)b), Gf256.Multiply((byte)a, (byte)b));
            }
        }
    }

    [Fact]
    public void Every_non_zero_element_has_its_inverse()
    {
        for (var a = 1; a < 256; a++)
        {
            Assert.Equal(1, Gf256.Multiply((byte)a, Gf256.Inverse((byte)a)));
        }
    }

    [Theory]
    [InlineData(2, 3)]
    [InlineData(3, 5)]
    [InlineData(2, 2)]
    [InlineData(5, 7)]
    public void Every_subset_of_k_shares_recovers_the_secret(int threshold, int count)
    {
        using var secret = SecretBuffer.GeneratePrintableKey(64);
        var shares = Shamir.Split(secret.Span, threshold, count);
        try
        {
            var subsets = 0;
            foreach (var subset in Subsets(count, threshold))
            {
                using var recovered = Shamir.Combine(subset.Select(i => (byte)(i + 1)).ToArray(), subset.Select(i => shares[i]).ToList());
                Assert.True(recovered.ContentEquals(secret), $"shares {string.Join(",", subset.Select(i => i + 1))} did not recover the secret");
                subsets++;
            }

            Assert.Equal(Binomial(count, threshold), subsets);
            foreach (var subset in Subsets(count, threshold - 1).Where(s => s.Count >= 2))
            {
                using var partial = Shamir.Combine(subset.Select(i => (byte)(i + 1)).ToArray(), subset.Select(i => shares[i]).ToList());
                Assert.False(partial.ContentEquals(secret), "k-1 shares must not give the secret");
            }
        }
        finally
        {
            Array.ForEach(shares, s => s.Dispose());
        }
    }

    /// <summary>
    /// The secrecy property itself, exhaustively for a 1-byte secret and k = 2: for every share
    /// index x and every possible secret, the 256 possible random coefficients give each of the 256
    /// share values exactly once. So one share is consistent with every secret, equally often, and
    /// says nothing about which it is.
    /// </summary>
    [Fact]
    public void One_share_of_a_two_of_n_split_is_consistent_with_every_one_byte_secret()
    {
        for (var secret = 0; secret < 256; secret++)
        {
            // 256 copies of the secret byte, position c split with coefficient c: every
            // coefficient at once, each position being an independent 1-byte split.
            var copies = Enumerable.Repeat((byte)secret, 256).ToArray();
            var next = 0;
            var shares = Shamir.Split(copies, 2, 3, span => span[0] = (byte)next++);
            try
            {
                Assert.Equal(256, next);
                foreach (var share in shares)
                {
                    var seen = new int[256];
                    foreach (var value in share.Span)
                    {
                        seen[value]++;
                    }

                    Assert.All(seen, count => Assert.Equal(1, count));
                }
            }
            finally
            {
                Array.ForEach(shares, s => s.Dispose());
            }
        }
    }

    [Fact]
    public void Coefficients_come_from_the_random_source_so_two_splits_differ()
    {
        using var secret = SecretBuffer.GeneratePrintableKey(64);
        var first = Shamir.Split(secret.Span, 2, 3);
        var second = Shamir.Split(secret.Span, 2, 3);
        Assert.False(first[0].ContentEquals(second[0]));
        Assert.False(first[0].ContentEquals(secret));
        Array.ForEach(first, s => s.Dispose());
        Array.ForEach(second, s => s.Dispose());
    }

    [Fact]
    public void Impossible_quorums_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Shamir.Split([1], 1, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Shamir.Split([1], 4, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Shamir.Split([1], 2, 256));
    }

    internal static IEnumerable<List<int>> Subsets(int count, int size)
    {
        if (size == 0)
        {
            yield return [];
            yield break;
        }

        for (var first = 0; first <= count - size; first++)
        {
            foreach (var rest in Subsets(count - first - 1, size - 1))
            {
                yield return [first, .. rest.Select(r => r + first + 1)];
            }
        }
    }

    private static int Binomial(int n, int k) => k == 0 ? 1 : Binomial(n - 1, k - 1) * n / k;
}
