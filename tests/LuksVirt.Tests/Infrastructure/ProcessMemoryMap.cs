using System.Globalization;

namespace LuksVirt.Tests.Infrastructure;

/// <summary>One mapping of /proc/PID/smaps: its range, permissions, name, sizes (kB) and VmFlags.</summary>
public sealed record MemoryMapping(ulong Start, ulong End, string Permissions, string Name, IReadOnlyDictionary<string, long> KiloBytes, IReadOnlySet<string> Flags)
{
    public bool Contains(ulong address) => address >= Start && address < End;

    public ulong Length => End - Start;

    public bool IsReadable => Permissions.StartsWith('r');

    /// <summary>VM_LOCKED ("lo"): mlock'ed, or secret memory, which the kernel always locks.</summary>
    public bool IsLocked => Flags.Contains("lo");

    /// <summary>VM_DONTDUMP ("dd"): left out of core dumps.</summary>
    public bool IsExcludedFromCoreDumps => Flags.Contains("dd");

    /// <summary>A memfd_secret mapping: its pages are not even in the kernel's direct map.</summary>
    public bool IsSecretMemory => Name.StartsWith("/secretmem", StringComparison.Ordinal);

    /// <summary>Resident bytes the kernel counts as locked (smaps "Locked:").</summary>
    public long LockedKiloBytes => KiloBytes.GetValueOrDefault("Locked");

    public override string ToString() =>
        $"{Start:x}-{End:x} {Permissions} {Name} Locked:{LockedKiloBytes}kB VmFlags:{string.Join(' ', Flags)}";
}

/// <summary>
/// Reads what the kernel says about a process's memory: /proc/PID/smaps (every mapping, whether
/// it is locked, whether it is dumped) and the VmLck line of /proc/PID/status. A snapshot: the
/// caller keeps the memory it asks about alive while it reads.
/// </summary>
public static class ProcessMemoryMap
{
    public static IReadOnlyList<MemoryMapping> Read(string pid = "self")
    {
        var mappings = new List<MemoryMapping>();
        (ulong Start, ulong End, string Permissions, string Name)? current = null;
        var sizes = new Dictionary<string, long>();
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            var header = TryParseHeader(line);
            if (header is not null)
            {
                current = header;
                sizes = [];
                continue;
            }

            if (current is not { } mapping)
            {
                continue;
            }

            if (line.StartsWith("VmFlags:", StringComparison.Ordinal))
            {
                // VmFlags is the last line of each entry.
                var flags = line["VmFlags:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
                mappings.Add(new MemoryMapping(mapping.Start, mapping.End, mapping.Permissions, mapping.Name, sizes, flags));
                current = null;
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var value = line[(colon + 1)..].Trim();
            if (colon > 0 && value.EndsWith(" kB", StringComparison.Ordinal))
            {
                sizes[line[..colon]] = long.Parse(value[..^3], CultureInfo.InvariantCulture);
            }
        }

        return mappings;
    }

    /// <summary>The one mapping that holds <paramref name="address"/>.</summary>
    public static MemoryMapping MappingOf(nint address, string pid = "self")
    {
        var mappings = Read(pid);
        return mappings.SingleOrDefault(m => m.Contains((ulong)address))
            ?? throw new InvalidOperationException($"no mapping of /proc/{pid}/smaps holds 0x{address:x}");
    }

    /// <summary>The mappings right below and right above the one holding <paramref name="address"/>
    /// (null where the address space next to it is unmapped).</summary>
    public static (MemoryMapping? Below, MemoryMapping Holder, MemoryMapping? Above) NeighboursOf(nint address, string pid = "self")
    {
        var mappings = Read(pid);
        var holder = mappings.Single(m => m.Contains((ulong)address));
        return (mappings.SingleOrDefault(m => m.End == holder.Start), holder, mappings.SingleOrDefault(m => m.Start == holder.End));
    }

    /// <summary>VmLck of /proc/PID/status in kB: all locked memory of the process.</summary>
    public static long LockedKiloBytes(string pid = "self")
    {
        var line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmLck:", StringComparison.Ordinal));
        return long.Parse(line["VmLck:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    // "7f726b24e000-7f726b24f000 rw-s 00000000 00:0e 252252   /secretmem (deleted)"
    private static (ulong, ulong, string, string)? TryParseHeader(string line)
    {
        var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 5)
        {
            return null;
        }

        var range = fields[0].Split('-');
        if (range.Length != 2
            || !ulong.TryParse(range[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var start)
            || !ulong.TryParse(range[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var end))
        {
            return null;
        }

        return (start, end, fields[1], fields.Length == 6 ? fields[5].Trim() : "");
    }
}
