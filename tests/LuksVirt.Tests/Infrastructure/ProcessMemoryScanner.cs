using System.Globalization;

namespace LuksVirt.Tests.Infrastructure;

/// <summary>What one scan of a process's memory read and found.</summary>
/// <param name="Hits">"KEY FORM at ADDRESS (MAPPING)" for every place a key was found.</param>
/// <param name="BytesScanned">Bytes read through /proc/PID/mem.</param>
/// <param name="Unreadable">Readable mappings the kernel would not hand out, as "RANGE NAME: ERROR".</param>
public sealed record MemoryScanResult(IReadOnlyList<string> Hits, long BytesScanned, IReadOnlyList<MemoryMapping> Unreadable);

/// <summary>
/// Searches the memory of a running process for test keys (raw, lower- and upper-case hex,
/// base64): every readable mapping of /proc/PID/smaps, read through /proc/PID/mem (needs root,
/// since LuksVirt makes itself non-dumpable). Mappings the kernel cannot read out are reported,
/// not skipped silently: secret memory (memfd_secret) is one, by design.
/// </summary>
public sealed class ProcessMemoryScanner
{
    private const int ChunkBytes = 4 * 1024 * 1024;

    private readonly List<(string Form, byte[] Needle)> _needles;

    public ProcessMemoryScanner(IEnumerable<TestKey> keys)
    {
        _needles = KeyNeedles.Of(keys);
    }

    public MemoryScanResult Scan(int pid)
    {
        var id = pid.ToString(CultureInfo.InvariantCulture);
        var hits = new List<string>();
        var unreadable = new List<MemoryMapping>();
        long scanned = 0;
        var overlap = _needles.Max(n => n.Needle.Length) - 1;
        using var memory = new FileStream($"/proc/{id}/mem", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        var buffer = new byte[ChunkBytes + overlap];
        foreach (var mapping in ProcessMemoryMap.Read(id).Where(m => m.IsReadable))
        {
            // Chunks overlap by one needle length less one byte, so a key across a chunk border is found.
            for (var start = mapping.Start; start < mapping.End; start += ChunkBytes)
            {
                var length = (int)Math.Min((ulong)(ChunkBytes + overlap), mapping.End - start);
                var read = TryRead(memory, start, buffer.AsSpan(0, length));
                if (read < 0)
                {
                    // The runtime maps and unmaps short-lived views (the JIT's W^X double mapping):
                    // a mapping that is gone by now was not unreadable, it ended.
                    if (StillMapped(id, mapping))
                    {
                        unreadable.Add(mapping);
                    }

                    break;
                }

                scanned += Math.Min(read, ChunkBytes);
                foreach (var (form, needle) in _needles)
                {
                    var at = buffer.AsSpan(0, read).IndexOf(needle);
                    if (at >= 0)
                    {
                        hits.Add($"{form} at 0x{start + (ulong)at:x} ({mapping})");
                    }
                }
            }
        }

        return new MemoryScanResult(hits, scanned, unreadable);
    }

    private static bool StillMapped(string pid, MemoryMapping mapping) =>
        ProcessMemoryMap.Read(pid).Any(m => m.Start == mapping.Start && m.End == mapping.End && m.Name == mapping.Name);

    /// <summary>Bytes read at <paramref name="address"/>, or -1 when the kernel refuses (EIO).</summary>
    private static int TryRead(FileStream memory, ulong address, Span<byte> target)
    {
        try
        {
            memory.Position = (long)address;
            return ReadAll(memory, target);
        }
        catch (IOException)
        {
            return -1;
        }
    }

    private static int ReadAll(FileStream stream, Span<byte> target)
    {
        var total = 0;
        while (total < target.Length)
        {
            var read = stream.Read(target[total..]);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}
