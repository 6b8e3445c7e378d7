using LuksVirt.Interop.Libc;

namespace LuksVirt.Tests.Infrastructure;

/// <summary>
/// Looks for test keys where they must never be (reliability.md, security 1 and 2): in any
/// process's command line or environment, and in any file under the given roots. Each key is
/// searched raw, as lower- and upper-case hex and as base64. Symbolic links are not followed;
/// only regular files are opened.
/// </summary>
public sealed class KeyLeakScanner
{
    public static readonly string[] HostRoots = ["/tmp", "/run", "/var/lib/luksvirt", "/dev/shm", "/var/tmp/luksvirt-tests"];

    private const long LargestScannedFile = 512L * 1024 * 1024;

    private readonly List<(string Form, byte[] Needle)> _needles;

    public KeyLeakScanner(IEnumerable<TestKey> keys)
    {
        _needles = KeyNeedles.Of(keys);
    }

    /// <summary>Every /proc/PID/cmdline and /proc/PID/environ that holds a key, as "PATH: FORM".</summary>
    public IReadOnlyList<string> ScanProcesses()
    {
        var hits = new List<string>();
        foreach (var process in Directory.EnumerateDirectories("/proc").Where(d => Path.GetFileName(d).All(char.IsAsciiDigit)))
        {
            foreach (var file in new[] { "cmdline", "environ" })
            {
                byte[] content;
                try
                {
                    content = File.ReadAllBytes(Path.Combine(process, file));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    continue;   // the process ended meanwhile
                }

                hits.AddRange(Find(content).Select(form => $"{process}/{file}: {form}"));
            }
        }

        return hits;
    }

    /// <summary>Every regular file under <paramref name="roots"/> (except <paramref name="excluded"/>)
    /// that holds a key, as "PATH: FORM".</summary>
    public IReadOnlyList<string> ScanFiles(IEnumerable<string> roots, IReadOnlySet<string> excluded)
    {
        var hits = new List<string>();
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            IgnoreInaccessible = true,
            AttributesToSkip = FileAttributes.ReparsePoint,   // symbolic links: neither followed nor read
        };
        foreach (var root in roots.Where(Directory.Exists))
        {
            foreach (var path in Directory.EnumerateFiles(root, "*", options))
            {
                if (excluded.Contains(path) || ReadRegularFile(path) is not { } content)
                {
                    continue;
                }

                hits.AddRange(Find(content).Select(form => $"{path}: {form}"));
            }
        }

        return hits;
    }

    private IEnumerable<string> Find(byte[] content) =>
        _needles.Where(n => content.AsSpan().IndexOf(n.Needle) >= 0).Select(n => n.Form);

    private static byte[]? ReadRegularFile(string path)
    {
        try
        {
            // Non-blocking and no-follow: sockets and FIFOs under /run must not hang the scan.
            using var handle = PosixFile.OpenNoFollow(path, out var status);
            if (status.Type != PosixFileType.Regular || status.Size > LargestScannedFile)
            {
                return null;
            }

            var content = new byte[status.Size];
            var read = 0;
            while (read < content.Length)
            {
                var n = RandomAccess.Read(handle, content.AsSpan(read), read);
                if (n <= 0)
                {
                    break;
                }

                read += n;
            }

            return content[..read];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;   // vanished, a socket, or a device node: not a file a key could be left in
        }
    }
}
