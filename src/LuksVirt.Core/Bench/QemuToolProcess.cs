using System.Diagnostics;
using LuksVirt.Core.Processes;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Bench;

/// <summary>How one run of a QEMU tool ended and how long it took, start-up included.</summary>
internal sealed record QemuToolRun(int ExitCode, TimeSpan Elapsed, string StandardError)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>
/// Runs qemu-io or qemu-img and times it. A key goes to the tool only through its standard input,
/// which the argv names as <c>--object secret,id=...,file=/dev/stdin</c>: never argv, environment
/// or a file (QEMU reads the whole secret file at start-up, so the pipe is closed right after).
/// </summary>
internal static class QemuToolProcess
{
    /// <summary>The secret object every keyed run declares; its data comes from standard input.</summary>
    public const string SecretId = "sec0";

    public static readonly string SecretObjectArgument = $"secret,id={SecretId},file=/dev/stdin";

    /// <summary>Runs <paramref name="tool"/> (looked up in PATH) to its end. Throws
    /// <see cref="QemuToolMissingException"/> when it is not installed.</summary>
    public static async Task<QemuToolRun> RunAsync(string tool, IReadOnlyList<string> arguments, SecretBuffer? key, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        using var process = ToolProcess.Start(tool, arguments, environment: null, cause => new QemuToolMissingException(tool, cause));
        // qemu-io prints a line per request; only its exit code and stderr matter here.
        var output = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        HandOver(process, key);
        await ToolProcess.WaitForExitOrKillAsync(process, cancellationToken).ConfigureAwait(false);
        await output.ConfigureAwait(false);
        stopwatch.Stop();
        return new QemuToolRun(process.ExitCode, stopwatch.Elapsed, (await errors.ConfigureAwait(false)).Trim());
    }

    private static void HandOver(Process process, SecretBuffer? key)
    {
        var input = process.StandardInput;
        try
        {
            if (key is not null)
            {
                // Straight to the pipe: the StreamWriter's char buffer never sees the key.
                input.BaseStream.Write(key.Span);
                input.BaseStream.Flush();
            }

            input.Close();
        }
        catch (IOException)
        {
            // The tool exited before reading (bad option, missing file): its exit code and
            // stderr tell why.
        }
    }
}

/// <summary>qemu-io or qemu-img is not installed (Debian package qemu-utils).</summary>
internal sealed class QemuToolMissingException : Exception
{
    public QemuToolMissingException(string tool, Exception? inner = null)
        : base($"{tool} not found: install the qemu-utils package", inner)
    {
        Tool = tool;
    }

    public string Tool { get; }
}
