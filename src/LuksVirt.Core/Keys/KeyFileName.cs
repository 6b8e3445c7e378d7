using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace LuksVirt.Core.Keys;

/// <summary>
/// The allow-listed key file naming convention of the classic recipe: <c>luks-HOLDER.SLOT.key</c>
/// or <c>luks-HOLDER.key</c>. HOLDER is 1-64 of [A-Za-z0-9_-] (a name for logs), SLOT an optional
/// key slot hint 0-31 in decimal without leading zeros. "luks-" and ".key" match in any letter
/// case, because FAT short names on a stick come upper-case (LUKS-A.KEY). Anything else is not a
/// key file; a rejected name reaches logs only through <see cref="Sanitize(string)"/>.
/// </summary>
internal static class KeyFileName
{
    public const string Prefix = "luks-";
    public const string Suffix = ".key";
    public const int MaxNameBytes = 255;
    public const int MaxHolderLength = 64;
    public const int MaxSlotHint = 31;

    /// <summary>Characters kept by <see cref="Sanitize(string)"/> before it truncates.</summary>
    public const int MaxSanitizedCharacters = 80;

    /// <summary>True when <paramref name="name"/> follows the convention; the holder is returned as written.</summary>
    public static bool TryParse(string name, [NotNullWhen(true)] out string? holder, out int? slotHint) =>
        Check(name, out holder, out slotHint) is null;

    /// <summary>Why <paramref name="name"/> is not an acceptable key file name, or null when it is.
    /// The reason never contains a character of the name that is not printable ASCII.</summary>
    public static string? Explain(string name) => Check(name, out _, out _);

    /// <summary>
    /// True when the name looks meant as a key file (starts with "luks-" or ends with ".key", any
    /// case): such a name is reported as rejected when it breaks a rule; any other name is
    /// simply not a key file and is ignored.
    /// </summary>
    public static bool LooksLikeKeyFile(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) || name.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// What a file's name makes of it, the same for every source that finds key files by name
    /// (the key directory, a stick): not a key file at all (ignored), meant as one but breaking
    /// the rules (refused, never opened), or a key file with its holder and slot hint.
    /// </summary>
    public static ClassifiedName Classify(string name)
    {
        if (!LooksLikeKeyFile(name))
        {
            return new ClassifiedName(KeyFileNameKind.NotAKeyFile, null, null, null);
        }

        var reason = Check(name, out var holder, out var slotHint);
        return reason is null
            ? new ClassifiedName(KeyFileNameKind.KeyFile, holder, slotHint, null)
            : new ClassifiedName(KeyFileNameKind.Refused, null, null, reason);
    }

    /// <summary>The file name for a holder and optional slot hint (for keys LuksVirt writes).</summary>
    public static string Format(string holder, int? slotHint)
    {
        var name = slotHint is { } slot
            ? string.Create(CultureInfo.InvariantCulture, $"{Prefix}{holder}.{slot}{Suffix}")
            : $"{Prefix}{holder}{Suffix}";
        return Explain(name) is { } reason ? throw new ArgumentException($"not a valid key file name: {reason}", nameof(holder)) : name;
    }

    /// <summary>
    /// A printable rendering of any name for logs: printable ASCII stays, a backslash doubles,
    /// control characters become \n, \t, \r or \xNN, anything beyond ASCII \u{NNNN}; cut after
    /// <see cref="MaxSanitizedCharacters"/> characters with "..." appended.
    /// </summary>
    public static string Sanitize(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var text = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            if (i == MaxSanitizedCharacters)
            {
                text.Append("...");
                break;
            }

            AppendEscaped(text, name[i]);
        }

        return text.ToString();
    }

    /// <summary>The same rendering for a name still in raw bytes (e.g. a FAT entry): bytes that are
    /// not printable ASCII become \xNN, whatever encoding they were meant in.</summary>
    public static string Sanitize(ReadOnlySpan<byte> rawName)
    {
        var text = new StringBuilder();
        for (var i = 0; i < rawName.Length; i++)
        {
            if (i == MaxSanitizedCharacters)
            {
                text.Append("...");
                break;
            }

            var b = rawName[i];
            if (b is >= 0x20 and < 0x7F)
            {
                AppendEscaped(text, (char)b);
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"\\x{b:X2}");
            }
        }

        return text.ToString();
    }

    private static string? Check(string name, out string? holder, out int? slotHint)
    {
        ArgumentNullException.ThrowIfNull(name);
        holder = null;
        slotHint = null;
        if (name.Length == 0)
        {
            return "the name is empty";
        }

        if (Encoding.UTF8.GetByteCount(name) > MaxNameBytes)
        {
            return $"the name is longer than {MaxNameBytes} bytes";
        }

        if (name.Contains("..", StringComparison.Ordinal))
        {
            return "the name contains \"..\"";
        }

        foreach (var c in name)
        {
            if (!IsAllowedCharacter(c))
            {
                return $"the name contains {Describe(c)}; only A-Z a-z 0-9 _ - . are allowed";
            }
        }

        if (!name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            return $"the name does not start with \"{Prefix}\"";
        }

        if (!name.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase) || name.Length < Prefix.Length + Suffix.Length)
        {
            return $"the name does not end with \"{Suffix}\"";
        }

        var middle = name[Prefix.Length..^Suffix.Length];
        var dot = middle.IndexOf('.', StringComparison.Ordinal);
        var holderPart = dot < 0 ? middle : middle[..dot];
        var slotPart = dot < 0 ? null : middle[(dot + 1)..];

        if (holderPart.Length == 0)
        {
            return "the holder name is empty";
        }

        if (holderPart.Length > MaxHolderLength)
        {
            return $"the holder name is longer than {MaxHolderLength} characters";
        }

        if (slotPart is not null)
        {
            // Every character is printable ASCII here, so the slot text may be shown.
            if (slotPart.Contains('.', StringComparison.Ordinal))
            {
                return "the name has more than one '.' between \"luks-\" and \".key\"";
            }

            if (!TryParseSlot(slotPart, out var slot))
            {
                return $"the slot hint \"{slotPart}\" is not a number from 0 to {MaxSlotHint} without leading zeros";
            }

            slotHint = slot;
        }

        holder = holderPart;
        return null;
    }

    private static bool TryParseSlot(string text, out int slot)
    {
        slot = 0;
        if (text.Length is 0 or > 2 || (text.Length > 1 && text[0] == '0'))
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            slot = (slot * 10) + (c - '0');
        }

        return slot <= MaxSlotHint;
    }

    private static bool IsAllowedCharacter(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.';

    private static string Describe(char c) => c switch
    {
        < ' ' or '\x7F' => "a control character",
        > '\x7F' => "a character beyond ASCII",
        _ => $"'{c}'",
    };

    private static void AppendEscaped(StringBuilder text, char c)
    {
        switch (c)
        {
            case '\\':
                text.Append(@"\\");
                break;
            case '\n':
                text.Append(@"\n");
                break;
            case '\r':
                text.Append(@"\r");
                break;
            case '\t':
                text.Append(@"\t");
                break;
            case < ' ' or '\x7F':
                text.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}");
                break;
            case > '\x7F':
                text.Append(CultureInfo.InvariantCulture, $"\\u{{{(int)c:X4}}}");
                break;
            default:
                text.Append(c);
                break;
        }
    }
}

/// <summary>What <see cref="KeyFileName.Classify"/> found a name to be.</summary>
internal enum KeyFileNameKind
{
    /// <summary>Neither starts with "luks-" nor ends with ".key": some other file.</summary>
    NotAKeyFile,

    /// <summary>Meant as a key file, but the name breaks the convention.</summary>
    Refused,

    /// <summary>A key file name.</summary>
    KeyFile,
}

/// <summary>A classified name: the holder and slot hint of a key file, or why its name is refused.</summary>
internal readonly record struct ClassifiedName(KeyFileNameKind Kind, string? Holder, int? SlotHint, string? Reason);
