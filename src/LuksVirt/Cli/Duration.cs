using System.Globalization;

namespace LuksVirt.Cli;

/// <summary>A positive duration on the command line: minutes by default ("15"), or a whole
/// number with a unit ("90s", "15m", "1h").</summary>
internal static class Duration
{
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var (digits, unit) = char.IsAsciiLetter(text[^1]) ? (text[..^1], text[^1]) : (text, 'm');
        if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1)
        {
            return false;
        }

        duration = unit switch
        {
            's' => TimeSpan.FromSeconds(count),
            'm' => TimeSpan.FromMinutes(count),
            'h' => TimeSpan.FromHours(count),
            _ => TimeSpan.Zero,
        };
        return duration > TimeSpan.Zero;
    }
}
