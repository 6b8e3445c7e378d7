using System.Diagnostics;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Bench;

/// <summary>
/// One <c>luksvirt bench --json --size 16</c> run as an administrator would start it, shared by
/// the tests that read its outcome: its output, exit code, every qemu-io and qemu-img process
/// seen in /proc while it ran, and what it left in its temporary directory (TMPDIR points into a
/// per-run test directory).
/// </summary>
public sealed class BenchCliRun : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);

    private readonly TempDirectory _temp = new("bench-cli");

    public BenchCliRun()
    {
        var (file, prefix) = LuksVirtCli.Command();
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in prefix.Concat(["bench", "--json", "--size", "16"]))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TMPDIR"] = _temp.Path;

        var seen = new Dictionary<int, QemuProcess>();
        using var bench = Process.Start(start) ?? throw new InvalidOperationException("cannot start luksvirt");
        var stdout = bench.StandardOutput.ReadToEndAsync();
        var stderr = bench.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        // Polling is the only way to see short-lived processes from outside; 2 ms catches
        // qemu-io runs that last tens of milliseconds.
        while (!bench.HasExited && clock.Elapsed < s_timeout)
        {
            // Only the bench's own children: other tests may run qemu-img at the same time.
            foreach (var process in QemuProcess.Scan(parentPid: bench.Id))
            {
                seen.TryAdd(process.Pid, process);
            }

            Thread.Sleep(2);
        }

        if (!bench.WaitForExit(s_timeout))
        {
            bench.Kill(entireProcessTree: true);
            throw new TimeoutException("luksvirt bench did not finish in time");
        }

        bench.WaitForExit();
        ExitCode = bench.ExitCode;
        StandardOutput = stdout.GetAwaiter().GetResult();
        StandardError = stderr.GetAwaiter().GetResult();
        QemuProcesses = [.. seen.Values];
        LeftInTempDirectory = [.. Directory.EnumerateFileSystemEntries(_temp.Path)];
    }

    public int ExitCode { get; }

    public string StandardOutput { get; }

    public string StandardError { get; }

    public IReadOnlyList<QemuProcess> QemuProcesses { get; }

    public IReadOnlyList<string> LeftInTempDirectory { get; }

    public void Dispose() => _temp.Dispose();
}

/// <summary>A qemu-io or qemu-img process as /proc showed it: argv, environment, and what its
/// standard input was (e.g. "pipe:[1234]").</summary>
public sealed record QemuProcess(int Pid, string Name, IReadOnlyList<string> Arguments, IReadOnlyList<string> Environment, string? StandardInput)
{
    public static IEnumerable<QemuProcess> Scan(int parentPid)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            QemuProcess? process = null;
            try
            {
                var name = File.ReadAllText(Path.Combine(directory, "comm")).Trim();
                if (name is "qemu-io" or "qemu-img" && ParentOf(directory) == parentPid)
                {
                    process = new QemuProcess(
                        pid,
                        name,
                        Split(File.ReadAllText(Path.Combine(directory, "cmdline"))),
                        Split(File.ReadAllText(Path.Combine(directory, "environ"))),
                        new FileInfo(Path.Combine(directory, "fd", "0")).LinkTarget);
                }
            }
            catch (IOException)
            {
                // The process ended while being read.
            }
            catch (UnauthorizedAccessException)
            {
                // Likewise: its /proc entry went away or changed owner.
            }

            if (process is not null)
            {
                yield return process;
            }
        }
    }

    private static int? ParentOf(string procDirectory) =>
        File.ReadLines(Path.Combine(procDirectory, "status"))
            .Where(l => l.StartsWith("PPid:", StringComparison.Ordinal))
            .Select(l => (int?)int.Parse(l["PPid:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture))
            .FirstOrDefault();

    private static string[] Split(string nulSeparated) => nulSeparated.Split('\0', StringSplitOptions.RemoveEmptyEntries);
}
