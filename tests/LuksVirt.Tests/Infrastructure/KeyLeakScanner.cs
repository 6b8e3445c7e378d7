using System.Text;
using LuksVirt.Libc;
using LuksVirt.Secrets;

namespace LuksVirt.Tests.Infrastructure;

/// <summary>
/// Looks for keys where they must never be: any process's command line or environment, and
/// files under the given roots, in raw, hex (both cases) and base64 form (reliability.md,
/// "Security" 1, 2, 6).
/// </summary>
public sealed class KeyLeakScanner
{
    private const long MaxFileBytes = 64L << 20;
    private readonly List<(string Form, byte[] Pattern)> _patterns = [];

    public KeyLeakScanner(IEnumerable<SecretBuffer> keys)
    {
        foreach (var key in keys)
        {
            // The test process may hold these copies; the program under test may not.
            var raw = key.Span.ToArray();
            _patterns.Add(("raw", raw));
            _patterns.Add(("hex", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(raw))));
            _patterns.Add(("HEX", Encoding.ASCII.GetBytes(Convert.ToHexString(raw))));
            _patterns.Add(("base64", Encoding.ASCII.GetBytes(Convert.ToBase64String(raw))));
        }
    }

    /// <summary>Every /proc/PID/cmdline and /proc/PID/environ that holds a key.</summary>
    public IReadOnlyList<string> ScanProcesses()
    {
        var hits = new List<string>();
        foreach (var process in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            foreach (var file in new[] { "cmdline", "environ" })
            {
                var path = Path.Combine(process, file);
                byte[] content;
                try
                {
                    content = File.ReadAllBytes(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    continue; // the process ended meanwhile
                }

                hits.AddRange(Find(content).Select(form => $"{path} ({form})"));
            }
        }

        return hits;
    }

    /// <summary>Every regular file under <paramref name="roots"/> that holds a key.</summary>
    public IReadOnlyList<string> ScanFiles(params string[] roots)
    {
        var hits = new List<string>();
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        foreach (var root in roots.Where(Directory.Exists))
        {
            foreach (var path in Directory.EnumerateFiles(root, "*", options))
            {
                // Only regular files: opening a FIFO or a device could block or have effects.
                PosixFileStatus status;
                try
                {
                    status = PosixFile.GetLinkStatus(path);
                }
                catch (IOException)
                {
                    continue;
                }

                if (status.Type != PosixFileType.Regular || status.Size > MaxFileBytes)
                {
                    continue;
                }

                byte[] content;
                try
                {
                    content = File.ReadAllBytes(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    continue; // vanished or unreadable
                }

                hits.AddRange(Find(content).Select(form => $"{path} ({form})"));
            }
        }

        return hits;
    }

    private IEnumerable<string> Find(byte[] content) =>
        _patterns.Where(p => content.AsSpan().IndexOf(p.Pattern) >= 0).Select(p => p.Form).Distinct();
}
