using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Bench;

/// <summary>
/// One <c>luksvirt bench --json --size 16</c> run as an administrator would start it, shared by
/// the tests that read its outcome: its output, exit code, every qemu-io and qemu-img process it
/// started (from strace's record of every execve, so that no short-lived process is missed, with
/// what its standard input was made of), and what it left in its temporary directory (TMPDIR
/// points into a per-run test directory).
/// </summary>
public sealed class BenchCliRun : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);

    private readonly TempDirectory _temp = new("bench-cli");

    public BenchCliRun()
    {
        Assert.True(File.Exists("/usr/bin/strace"), "this run records every process the bench starts with strace (apt-get install strace)");
        var (file, prefix) = LuksVirtCli.Command();
        var trace = Path.Combine(_temp.Path, "..", Path.GetFileName(_temp.Path) + ".strace");
        var start = new ProcessStartInfo("strace")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-f", "-qq", "-v", "-s", "65536", "-e", "trace=execve,pipe2,dup2,dup3", "-o", trace, file }.Concat(prefix).Concat(["bench", "--json", "--size", "16"]))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TMPDIR"] = _temp.Path;

        using var bench = Process.Start(start) ?? throw new InvalidOperationException("cannot start strace luksvirt");
        var stdout = bench.StandardOutput.ReadToEndAsync();
        var stderr = bench.StandardError.ReadToEndAsync();
        if (!bench.WaitForExit(s_timeout))
        {
            bench.Kill(entireProcessTree: true);
            throw new TimeoutException("luksvirt bench did not finish in time");
        }

        bench.WaitForExit();
        ExitCode = bench.ExitCode;
        StandardOutput = stdout.GetAwaiter().GetResult();
        StandardError = stderr.GetAwaiter().GetResult();
        LeftInTempDirectory = [.. Directory.EnumerateFileSystemEntries(_temp.Path)];
        QemuProcesses = QemuProcess.FromTrace(File.ReadAllLines(trace));
        File.Delete(trace);
    }

    public int ExitCode { get; }

    public string StandardOutput { get; }

    public string StandardError { get; }

    public IReadOnlyList<QemuProcess> QemuProcesses { get; }

    public IReadOnlyList<string> LeftInTempDirectory { get; }

    public void Dispose() => _temp.Dispose();
}

/// <summary>A qemu-io or qemu-img process as its execve showed it: argv, environment, and what
/// its standard input was ("pipe" when a pipe's end was put there, null when left as it was).</summary>
public sealed partial record QemuProcess(int Pid, string Name, IReadOnlyList<string> Arguments, IReadOnlyList<string> Environment, string? StandardInput)
{
    /// <summary>The qemu processes in an strace -f -v record of execve, pipe2 and dup2/dup3.</summary>
    public static IReadOnlyList<QemuProcess> FromTrace(IReadOnlyList<string> lines)
    {
        var pipeEnds = new HashSet<int>();
        var stdinFrom = new Dictionary<int, string>();
        var found = new List<QemuProcess>();
        foreach (var line in lines)
        {
            if (PipeCall().Match(line) is { Success: true } pipe)
            {
                pipeEnds.Add(int.Parse(pipe.Groups[1].Value, CultureInfo.InvariantCulture));
                pipeEnds.Add(int.Parse(pipe.Groups[2].Value, CultureInfo.InvariantCulture));
            }
            else if (DupToStdin().Match(line) is { Success: true } dup)
            {
                var from = int.Parse(dup.Groups[2].Value, CultureInfo.InvariantCulture);
                stdinFrom[int.Parse(dup.Groups[1].Value, CultureInfo.InvariantCulture)] = pipeEnds.Contains(from) ? "pipe" : $"fd {from}";
            }
            else if (Execve().Match(line) is { Success: true } exec && Path.GetFileName(exec.Groups[2].Value) is "qemu-io" or "qemu-img")
            {
                var pid = int.Parse(exec.Groups[1].Value, CultureInfo.InvariantCulture);
                var (arguments, rest) = ReadArray(exec.Groups[3].Value);
                var (environment, _) = ReadArray(rest.TrimStart(',', ' '));
                found.Add(new QemuProcess(pid, Path.GetFileName(exec.Groups[2].Value), arguments, environment, stdinFrom.GetValueOrDefault(pid)));
            }
        }

        return found;
    }

    /// <summary>strace's ["a", "b"] with C escapes; returns the strings and what follows the ].</summary>
    private static (List<string> Items, string Remainder) ReadArray(string text)
    {
        var items = new List<string>();
        var i = text.IndexOf('[', StringComparison.Ordinal) + 1;
        while (i < text.Length && text[i] != ']')
        {
            if (text[i] != '"')
            {
                i++;
                continue;
            }

            var item = new StringBuilder();
            for (i++; text[i] != '"'; i++)
            {
                if (text[i] != '\\')
                {
                    item.Append(text[i]);
                    continue;
                }

                i++;
                switch (text[i])
                {
                    case 'n': item.Append('\n'); break;
                    case 't': item.Append('\t'); break;
                    case 'x':
                        item.Append((char)Convert.ToInt32(text.Substring(i + 1, 2), 16));
                        i += 2;
                        break;
                    default: item.Append(text[i]); break;
                }
            }

            items.Add(item.ToString());
            i++;
        }

        return (items, i < text.Length ? text[(i + 1)..] : "");
    }

    [GeneratedRegex(@"^\d+\s+pipe2\(\[(\d+), (\d+)\]")]
    private static partial Regex PipeCall();

    [GeneratedRegex(@"^(\d+)\s+dup[23]\((\d+), 0(?:, \w+)?\)\s+= 0")]
    private static partial Regex DupToStdin();

    [GeneratedRegex(@"^(\d+)\s+execve\(""([^""]+)"", (.*)\)\s+= 0$")]
    private static partial Regex Execve();
}
