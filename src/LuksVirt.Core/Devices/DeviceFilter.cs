using System.IO.Enumeration;

namespace LuksVirt.Core.Devices;

/// <summary>
/// Which disks count as key sticks. By default: disks whose sysfs device path runs through the
/// USB bus and that are removable, the way a USB stick or card reader presents itself (a USB hard
/// disk, not removable, is left alone). Patterns widen that: a disk also matches when its kernel
/// name or one of its partitions' names matches a pattern (* and ? wildcards, e.g. "sdc",
/// "sd?", "loop*"); "loop" alone stands for every loop device, which is what tests use.
/// </summary>
public sealed class DeviceFilter
{
    /// <summary>Shorthand accepted for "loop*".</summary>
    public const string LoopKeyword = "loop";

    private readonly string[] _patterns;

    public DeviceFilter(IEnumerable<string>? patterns = null)
    {
        var list = new List<string>();
        foreach (var pattern in patterns ?? [])
        {
            if (Explain(pattern) is { } problem)
            {
                throw new ArgumentException(problem, nameof(patterns));
            }

            list.Add(pattern == LoopKeyword ? "loop*" : pattern);
        }

        _patterns = [.. list];
    }

    public IReadOnlyList<string> Patterns => _patterns;

    /// <summary>Why <paramref name="pattern"/> is no usable device pattern, or null when it is.</summary>
    public static string? Explain(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (pattern.Length is 0 or > 64)
        {
            return "a device pattern must be 1 to 64 characters long";
        }

        foreach (var c in pattern)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('*' or '?' or '-' or '_' or '.' or ':'))
            {
                return $"device pattern \"{pattern}\" may hold only letters, digits, - _ . : and the wildcards * ?";
            }
        }

        return null;
    }

    public bool Matches(BlockDisk disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        if (disk.OnUsbBus && disk.Removable)
        {
            return true;
        }

        foreach (var pattern in _patterns)
        {
            if (FileSystemName.MatchesSimpleExpression(pattern, disk.Name, ignoreCase: false) ||
                disk.PartitionNames.Any(p => FileSystemName.MatchesSimpleExpression(pattern, p, ignoreCase: false)))
            {
                return true;
            }
        }

        return false;
    }

    public override string ToString() => _patterns.Length == 0
        ? "removable USB disks"
        : $"removable USB disks and {string.Join(", ", _patterns)}";
}
