using System.Text;

namespace LuksVirt.Core.Usb;

/// <summary>The 11-byte 8.3 name of a directory entry: decoding, validation and the checksum
/// that ties long-name entries to it.</summary>
internal static class ShortName
{
    public const int Length = 11;

    // DIR_NTRes bits Windows NT and Linux set for names like "key.bin" that fit 8.3 in one case.
    private const byte LowerCaseBase = 0x08;
    private const byte LowerCaseExtension = 0x10;

    // A first byte of 0x05 stands for 0xE5, which would otherwise mean "deleted".
    private const byte EscapedE5 = 0x05;

    /// <summary>"." and ".." entries of a subdirectory.</summary>
    public static bool IsDotEntry(ReadOnlySpan<byte> name) =>
        name.SequenceEqual(".          "u8) || name.SequenceEqual("..         "u8);

    /// <summary>"NAME.EXT" with trailing spaces dropped; lower case applied from the flags.
    /// Bytes from 0x7F up (DEL, an OEM code page) become U+FFFD: key names are ASCII. Throws
    /// <see cref="FatFormatException"/> for an empty name or a control or reserved character; the
    /// message holds none of the name's bytes (a damaged directory may point at a key).</summary>
    public static string Decode(ReadOnlySpan<byte> name, byte caseFlags)
    {
        var baseName = name[..8].TrimEnd((byte)' ');
        var extension = name[8..Length].TrimEnd((byte)' ');
        if (baseName.IsEmpty)
        {
            throw new FatFormatException("the 8.3 name is empty");
        }

        var text = new StringBuilder(12);
        Append(text, baseName, (caseFlags & LowerCaseBase) != 0, isFirst: true);
        if (!extension.IsEmpty)
        {
            text.Append('.');
            Append(text, extension, (caseFlags & LowerCaseExtension) != 0, isFirst: false);
        }

        return text.ToString();
    }

    /// <summary>The checksum each long-name entry carries (specification section 7).</summary>
    public static byte Checksum(ReadOnlySpan<byte> name)
    {
        byte sum = 0;
        foreach (var b in name[..Length])
        {
            sum = (byte)(((sum & 1) << 7) + (sum >> 1) + b);
        }

        return sum;
    }

    private static void Append(StringBuilder text, ReadOnlySpan<byte> part, bool lowerCase, bool isFirst)
    {
        for (var i = 0; i < part.Length; i++)
        {
            var b = part[i];
            if (isFirst && i == 0 && b == EscapedE5)
            {
                b = 0xE5;
            }

            if (b < 0x20 || IsForbidden(b))
            {
                // The byte itself stays out of the message: a damaged directory may point at a key.
                throw new FatFormatException("the 8.3 name contains a control or reserved character");
            }

            text.Append(b switch
            {
                >= 0x7F => '\uFFFD',
                >= (byte)'A' and <= (byte)'Z' when lowerCase => (char)(b + ('a' - 'A')),
                _ => (char)b,
            });
        }
    }

    // Characters the specification forbids in 8.3 names ('.' only separates base and extension).
    private static bool IsForbidden(byte b) => "\"*+,./:;<=>?[\\]|"u8.Contains(b);
}
