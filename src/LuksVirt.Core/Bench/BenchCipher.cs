using System.Globalization;

namespace LuksVirt.Core.Bench;

/// <summary>
/// One LUKS cipher specification as cryptsetup names it: <see cref="Cipher"/> "aes",
/// <see cref="Mode"/> "xts-plain64" (block mode and IV generator), <see cref="KeyBits"/> the whole
/// volume key (an XTS key holds two cipher keys, so "aes-xts 512" is AES-256).
/// </summary>
public sealed record BenchCipher(string Cipher, string Mode, int KeyBits)
{
    /// <summary>What both backends are measured with: the ciphers of <c>cryptsetup benchmark</c>
    /// that LUKS containers commonly use, in the order they are shown.</summary>
    public static IReadOnlyList<BenchCipher> Candidates { get; } =
    [
        new("aes", "xts-plain64", 256),
        new("aes", "xts-plain64", 512),
        new("serpent", "xts-plain64", 512),
        new("twofish", "xts-plain64", 512),
        new("aes", "cbc-essiv:sha256", 256),
    ];

    /// <summary>"aes-xts-plain64", as in <c>cryptsetup luksFormat --cipher</c>.</summary>
    public string Name => $"{Cipher}-{Mode}";

    public int KeyBytes => KeyBits / 8;

    /// <summary>Only XTS is recommended for new disks: cryptsetup's default since 1.6. CBC, even
    /// with ESSIV, lets whoever can write the disk flip chosen bits in the following plaintext
    /// block; it is measured because old containers use it.</summary>
    public static bool IsRecommendedForNewDisks(string name) => name.Contains("-xts-", StringComparison.Ordinal);

    /// <summary>"aes-xts-plain64 512-bit" for tables and messages.</summary>
    public string Label => string.Create(CultureInfo.InvariantCulture, $"{Name} {KeyBits}-bit");

    /// <summary>The block mode alone: "xts" or "cbc".</summary>
    public string BlockMode => Mode.Split('-')[0];

    /// <summary>The IV generator: "plain64", or "essiv:sha256".</summary>
    public string IvGenerator => Mode.Contains('-', StringComparison.Ordinal) ? Mode[(Mode.IndexOf('-', StringComparison.Ordinal) + 1)..] : string.Empty;

    /// <summary>Bits of each cipher key: XTS splits the volume key into two.</summary>
    public int CipherKeyBits => BlockMode == "xts" ? KeyBits / 2 : KeyBits;

    public override string ToString() => Label;
}
