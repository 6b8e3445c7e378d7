using System.Text;
using LuksVirt.Core.Quorum;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Tests.Quorum;

/// <summary>The share file format: written, read back, and anything else refused by name.</summary>
public sealed class ShareFormatTests
{
    private const string Uuid = "57b21ebf-bae2-4155-8b19-bcc605a572c3";

    [Fact]
    public void A_share_file_reads_back_with_its_header_and_bytes()
    {
        var header = new ShareHeader(Uuid, new string('a', 32), 2, ["alice", "bob", "carol"], 2, 5);
        using var bytes = SecretBuffer.FromRandom(64);
        using var file = QuorumShare.Encode(header, bytes);

        using var share = QuorumShare.Parse(file, "luks-bob.5.key");

        Assert.Equal(header.ContainerUuid, share.Header.ContainerUuid);
        Assert.Equal(header.SplitId, share.Header.SplitId);
        Assert.Equal(2, share.Header.Threshold);
        Assert.Equal(3, share.Header.Count);
        Assert.Equal("bob", share.Header.Holder);
        Assert.Equal(5, share.Header.Slot);
        Assert.True(share.Bytes.ContentEquals(bytes));
    }

    [Fact]
    public void Two_splits_of_the_same_key_have_headers_that_differ_only_in_the_random_split_id()
    {
        using var key = SecretBuffer.GeneratePrintableKey(64);
        string HeaderOf(string split) => Encoding.ASCII.GetString(new ShareHeader(Uuid, split, 2, ["alice", "bob"], 1, 1).Encode());
        var first = HeaderOf(Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)));
        var second = HeaderOf(Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)));

        var differing = first.Split('\n').Zip(second.Split('\n')).Where(p => p.First != p.Second).ToList();
        Assert.Single(differing);
        Assert.StartsWith("split ", differing[0].First, StringComparison.Ordinal);
        Assert.DoesNotContain(Encoding.ASCII.GetString(key.Span), first, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("an ordinary printable key, not a share", "not a LuksVirt share file")]
    [InlineData("LUKSVIRT-SHARE 2\ncontainer x\n\nzz", "is not version 1")]
    [InlineData("LUKSVIRT-SHARE 1\ncontainer 57b21ebf-bae2-4155-8b19-bcc605a572c3\nsplit aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nquorum 3 of 2\nholders alice,bob\nshare 1\nslot 1\n\nzz", "inconsistent")]
    [InlineData("LUKSVIRT-SHARE 1\ncontainer 57b21ebf-bae2-4155-8b19-bcc605a572c3\nsplit aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nquorum 2 of 2\nholders alice,bob\nshare 1\n\nzz", "no \"slot\" line")]
    [InlineData("LUKSVIRT-SHARE 1\ncontainer 57b21ebf-bae2-4155-8b19-bcc605a572c3\nsplit aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nquorum 2 of 2\nholders alice,bob\nshare 1\nslot 1\n\n", "no share bytes")]
    public void Anything_but_a_share_is_refused_naming_the_file(string content, string reason)
    {
        using var buffer = SecretBuffer.CopyOf(Encoding.ASCII.GetBytes(content));

        var error = Assert.Throws<FormatException>(() => QuorumShare.Parse(buffer, "luks-x.key"));

        Assert.StartsWith("luks-x.key: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }
}
