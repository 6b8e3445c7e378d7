using System.Globalization;

namespace LuksVirt.Core.Containers;

/// <summary>
/// A disk size as administrators write it for fallocate and lvcreate: a whole number with an
/// optional binary suffix K, M, G, T (also KiB, MiB...; a trailing B is allowed), or plain
/// bytes. The result must be a whole number of 512-byte sectors.
/// </summary>
public static class DiskSize
{
    public const int SectorBytes = 512;

    /// <summary>The size in bytes, or throws <see cref="FormatException"/> naming the rule.</summary>
    public static long Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var digits = 0;
        while (digits < trimmed.Length && char.IsAsciiDigit(trimmed[digits]))
        {
            digits++;
        }

        if (digits == 0 || !long.TryParse(trimmed.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            throw new FormatException($"size '{text}' must start with a whole number, e.g. 32G, 512M or 1073741824");
        }

        var shift = trimmed[digits..].ToUpperInvariant() switch
        {
            "" or "B" => 0,
            "K" or "KB" or "KIB" => 10,
            "M" or "MB" or "MIB" => 20,
            "G" or "GB" or "GIB" => 30,
            "T" or "TB" or "TIB" => 40,
            _ => throw new FormatException($"size '{text}' has an unknown unit; use K, M, G or T (powers of 1024)"),
        };
        if (number == 0 || number > long.MaxValue >> shift)
        {
            throw new FormatException($"size '{text}' must be above zero and below 8 EiB");
        }

        var bytes = number << shift;
        return bytes % SectorBytes == 0
            ? bytes
            : throw new FormatException($"size '{text}' is not a whole number of {SectorBytes}-byte sectors");
    }

    /// <summary>e.g. "32 GiB", "1.5 MiB", for messages.</summary>
    public static string Describe(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{value:0.##} {units[unit]}");
    }
}
