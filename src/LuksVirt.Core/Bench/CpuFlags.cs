namespace LuksVirt.Core.Bench;

/// <summary>
/// The CPU features the kernel reports in /proc/cpuinfo ("flags" on x86, "Features" on arm64).
/// Only what cipher choice depends on: whether AES runs in hardware.
/// </summary>
public sealed class CpuFlags
{
    private const string CpuInfoPath = "/proc/cpuinfo";

    private readonly HashSet<string> _flags;

    private CpuFlags(string? modelName, IEnumerable<string> flags)
    {
        ModelName = modelName;
        _flags = new HashSet<string>(flags, StringComparer.Ordinal);
    }

    /// <summary>"model name" of the first CPU, when the kernel reports one.</summary>
    public string? ModelName { get; }

    /// <summary>x86 "aes" (AES-NI) or arm64 "aes" (ARMv8 crypto extensions).</summary>
    public bool HasAesInstructions => _flags.Contains("aes");

    public bool Has(string flag) => _flags.Contains(flag);

    /// <summary>Reads /proc/cpuinfo; an unreadable file yields no flags (nothing proven).</summary>
    public static CpuFlags Read()
    {
        try
        {
            return Parse(File.ReadLines(CpuInfoPath));
        }
        catch (IOException)
        {
            return new CpuFlags(null, []);
        }
        catch (UnauthorizedAccessException)
        {
            return new CpuFlags(null, []);
        }
    }

    /// <summary>The first CPU's block is enough: all cores of a host report the same features.</summary>
    public static CpuFlags Parse(IEnumerable<string> cpuInfoLines)
    {
        ArgumentNullException.ThrowIfNull(cpuInfoLines);
        string? model = null;
        string[]? flags = null;
        foreach (var line in cpuInfoLines)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                if (flags is not null)
                {
                    break;
                }

                continue;
            }

            var key = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (key == "model name")
            {
                model ??= value;
            }
            else if (key is "flags" or "Features")
            {
                flags ??= value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            }
        }

        return new CpuFlags(model, flags ?? []);
    }
}
