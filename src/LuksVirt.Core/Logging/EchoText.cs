using System.Globalization;
using System.Text;

namespace LuksVirt.Core.Logging;

/// <summary>
/// Values from files and the command line as they may appear in a message: never unbounded
/// (a 50 MB guest name once went whole into stderr and the log) and never with control or format
/// characters (a newline would forge a log line, an escape sequence repaint the terminal).
/// </summary>
public static class EchoText
{
    /// <summary>Names and short values: this many characters, then "…".</summary>
    public const int MaxValueChars = 64;

    /// <summary>Paths keep their start and their end (the file name), this many characters in all.</summary>
    public const int MaxPathChars = 160;

    private const char Ellipsis = '…';

    /// <summary>A name or value: its first <see cref="MaxValueChars"/> characters, then "…".</summary>
    public static string Of(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Length <= MaxValueChars
            ? Printable(value)
            : Printable(value[..MaxValueChars]) + Ellipsis;
    }

    /// <summary>A path: whole up to <see cref="MaxPathChars"/> characters, else its start, "…" and its end.</summary>
    public static string OfPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length <= MaxPathChars)
        {
            return Printable(path);
        }

        var half = (MaxPathChars - 1) / 2;
        return Printable(path[..half]) + Ellipsis + Printable(path[^half..]);
    }

    /// <summary>Up to <paramref name="maxShown"/> names, each bounded, then "and N more".</summary>
    public static string List(IReadOnlyCollection<string> values, int maxShown)
    {
        ArgumentNullException.ThrowIfNull(values);
        var shown = string.Join(", ", values.Take(maxShown).Select(v => $"'{Of(v)}'"));
        return values.Count <= maxShown
            ? shown
            : string.Create(CultureInfo.InvariantCulture, $"{shown} and {values.Count - maxShown} more");
    }

    private static string Printable(string value)
    {
        if (value.All(IsShown))
        {
            return value;
        }

        var printable = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            printable.Append(IsShown(c) ? c : '?');
        }

        return printable.ToString();
    }

    // A cut may split a surrogate pair: the lone half is shown as '?', never as broken UTF-16.
    private static bool IsShown(char c) => CharUnicodeInfo.GetUnicodeCategory(c) is not
        (UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or
         UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator);
}
