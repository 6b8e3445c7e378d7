using System.Globalization;
using System.Text;
using LuksVirt.Core.Holders;

namespace LuksVirt.Core.Quorum;

/// <summary>
/// The public part of a share file: which container (LUKS UUID), which split (random id), the
/// quorum (k of n, the holders in share order), this share's index and the key slot the combined
/// key opens. Nothing here depends on the key: the split id is fresh random bytes, the rest is
/// what <c>keys list</c> shows anyway.
/// </summary>
internal sealed record ShareHeader(string ContainerUuid, string SplitId, int Threshold, IReadOnlyList<string> Holders, int Index, int Slot)
{
    public const string Magic = "LUKSVIRT-SHARE";

    public const int FormatVersion = 1;

    /// <summary>A header is a handful of short lines; anything longer is not one of ours.</summary>
    internal const int MaxHeaderBytes = 4096;

    public int Count => Holders.Count;

    /// <summary>The holder this share was issued to (index is 1-based).</summary>
    public string Holder => Holders[Index - 1];

    /// <summary>The header lines, ending with the empty line after which the share bytes follow.</summary>
    internal byte[] Encode() => Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
        $"{Magic} {FormatVersion}\ncontainer {ContainerUuid}\nsplit {SplitId}\nquorum {Threshold} of {Count}\nholders {string.Join(',', Holders)}\nshare {Index}\nslot {Slot}\n\n"));

    /// <summary>True when <paramref name="content"/> starts with the share magic (any version).</summary>
    public static bool LooksLikeShare(ReadOnlySpan<byte> content) => content.StartsWith(Encoding.ASCII.GetBytes(Magic + " "));

    /// <summary>Parses the header at the start of <paramref name="content"/>; returns where the share
    /// bytes begin, or throws <see cref="FormatException"/> naming what is wrong (never a key byte).</summary>
    internal static ShareHeader Parse(ReadOnlySpan<byte> content, out int shareOffset)
    {
        var end = content[..Math.Min(content.Length, MaxHeaderBytes)].IndexOf("\n\n"u8);
        if (!LooksLikeShare(content) || end < 0 || !Ascii.IsValid(content[..end]))
        {
            throw new FormatException($"not a LuksVirt share file (no \"{Magic}\" header)");
        }

        shareOffset = end + 2;
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = Encoding.ASCII.GetString(content[..end]).Split('\n');
        foreach (var line in lines.Skip(1))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0 || !fields.TryAdd(line[..space], line[(space + 1)..]))
            {
                throw new FormatException("share header has a malformed or repeated line");
            }
        }

        if (lines[0] != string.Create(CultureInfo.InvariantCulture, $"{Magic} {FormatVersion}"))
        {
            throw new FormatException($"share format \"{Sanitize(lines[0])}\" is not version {FormatVersion}, the one this LuksVirt reads");
        }

        var quorum = Field(fields, "quorum").Split(" of ");
        var holders = Field(fields, "holders").Split(',');
        var header = new ShareHeader(
            Field(fields, "container"),
            Field(fields, "split"),
            quorum.Length == 2 ? Number(quorum[0]) : -1,
            holders,
            Number(Field(fields, "share")),
            Number(Field(fields, "slot")));
        if (quorum.Length != 2 || Number(quorum[1]) != holders.Length || header.Threshold < 2 || header.Threshold > holders.Length
            || header.Index < 1 || header.Index > holders.Length || holders.Length > Shamir.MaxShares
            || holders.Any(h => !HolderName.IsValid(h)) || !Guid.TryParse(header.ContainerUuid, out _)
            || header.SplitId.Length != 32 || !header.SplitId.All(char.IsAsciiHexDigitLower))
        {
            throw new FormatException("share header is inconsistent (quorum, holders, share index, container or split id)");
        }

        return header;
    }

    private static string Field(Dictionary<string, string> fields, string name) =>
        fields.TryGetValue(name, out var value) ? value : throw new FormatException($"share header has no \"{name}\" line");

    private static int Number(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= 1024 ? value : -1;

    private static string Sanitize(string text) => Keys.KeyFileName.Sanitize(text);
}
