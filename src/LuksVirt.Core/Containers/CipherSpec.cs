
namespace LuksVirt.Core.Containers;

/// <summary>
/// A LUKS cipher as cryptsetup spells it, <c>CIPHER-MODE-IVGEN[:HASH]</c>, e.g. the default
/// <c>aes-xts-plain64</c>. XTS splits its key in two, so it gets a 512-bit key (AES-256 per
/// half, the usual production choice); other modes get 256 bits.
/// </summary>
public sealed record CipherSpec(string Cipher, string Mode, int VolumeKeyBytes)
{
    public const string DefaultName = "aes-xts-plain64";

    public static CipherSpec Default { get; } = Parse(DefaultName);

    public string Name => $"{Cipher}-{Mode}";

    public bool IsAesXtsPlain64 => Cipher == "aes" && Mode == "xts-plain64";

    /// <summary>Throws <see cref="FormatException"/> for anything but CIPHER-MODE[-IVGEN[:HASH]]
    /// made of lower-case letters, digits and the separators.</summary>
    public static CipherSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0 || dash == text.Length - 1 || !text.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or ':'))
        {
            throw new FormatException($"cipher '{text}' is not CIPHER-MODE-IVGEN as cryptsetup writes it, e.g. aes-xts-plain64, serpent-xts-plain64, aes-cbc-essiv:sha256");
        }

        var mode = text[(dash + 1)..];
        return new CipherSpec(text[..dash], mode, mode.StartsWith("xts", StringComparison.Ordinal) ? 64 : 32);
    }
}
