using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Quorum;

/// <summary>One holder's share as presented: its public header, the share bytes (locked memory,
/// zeroed on dispose) and where it came from (a file name, for messages).</summary>
internal sealed class QuorumShare : IDisposable
{
    private QuorumShare(ShareHeader header, SecretBuffer bytes, string origin)
    {
        Header = header;
        Bytes = bytes;
        Origin = origin;
    }

    public ShareHeader Header { get; }

    public SecretBuffer Bytes { get; }

    /// <summary>Where the share was read from, e.g. "luks-alice.3.key".</summary>
    public string Origin { get; }

    /// <summary>The share file content as written: header, then the share bytes. The caller disposes it.</summary>
    internal static SecretBuffer Encode(ShareHeader header, SecretBuffer share)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(share);
        var head = header.Encode();
        var file = SecretBuffer.Allocate(head.Length + share.Length);
        head.CopyTo(file.WritableSpan);
        share.Span.CopyTo(file.WritableSpan[head.Length..]);
        return file;
    }

    /// <summary>Parses a share file's content (borrowed: the caller still disposes it); throws
    /// <see cref="FormatException"/> naming <paramref name="origin"/> when it is not a share.</summary>
    public static QuorumShare Parse(SecretBuffer content, string origin)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(origin);
        ShareHeader header;
        int offset;
        try
        {
            header = ShareHeader.Parse(content.Span, out offset);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{origin}: {e.Message}", e);
        }

        if (offset >= content.Length)
        {
            throw new FormatException($"{origin}: share file has a header but no share bytes");
        }

        return new QuorumShare(header, SecretBuffer.CopyOf(content.Span[offset..]), origin);
    }

    public void Dispose() => Bytes.Dispose();
}
