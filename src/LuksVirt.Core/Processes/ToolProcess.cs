using System.ComponentModel;
using System.Diagnostics;

namespace LuksVirt.Core.Processes;

/// <summary>
/// The one way LuksVirt starts a system tool (lvcreate, qemu-img, qemu-io): directly, never
/// through a shell, arguments passed one by one, all three standard streams redirected, so that
/// no key can reach a command line and the caller decides what goes to standard input.
/// </summary>
internal static class ToolProcess
{
    /// <summary>Starts <paramref name="program"/> (looked up in PATH) with
    /// <paramref name="environment"/> on top of this process's own. When it cannot be started
    /// (not installed), throws what <paramref name="notInstalled"/> makes of the cause.</summary>
    public static Process Start(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment, Func<Exception?, Exception> notInstalled)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(notInstalled);
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        try
        {
            return Process.Start(start) ?? throw notInstalled(null);
        }
        catch (Win32Exception e)
        {
            throw notInstalled(e);
        }
    }

    /// <summary>Waits for the tool to exit; a cancelled wait kills it (and its children) first.</summary>
    public static async Task WaitForExitOrKillAsync(Process process, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(process);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
    }
}
