using System.Text;

namespace LuksVirt.Core.Inventory;

/// <summary>What the device mapper accepts as a name, narrowed to what is safe in logs and paths.</summary>
internal static class MappingNames
{
    /// <summary>DM_NAME_LEN is 128 bytes including the terminating NUL.</summary>
    public const int MaxLengthInBytes = 127;

    /// <summary>Null when <paramref name="name"/> is usable, else what is wrong with it.</summary>
    public static string? Validate(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            return "it is empty";
        }

        if (name.Contains('/', StringComparison.Ordinal))
        {
            return "it contains '/'";
        }

        var bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes > MaxLengthInBytes)
        {
            return $"it is {bytes} bytes long, the device mapper allows at most {MaxLengthInBytes}";
        }

        foreach (var c in name)
        {
            if (!IsAllowed(c))
            {
                return $"it contains '{Printable(c)}'; only A-Z a-z 0-9 . _ + - are allowed";
            }
        }

        return null;
    }

    private static bool IsAllowed(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '+' or '-';

    private static string Printable(char c) =>
        char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString();
}
