namespace LuksVirt.Core.Processes;

/// <summary>What an external tool did: exit code, its output (only JSON output is ever read)
/// and its error output (for messages).</summary>
internal sealed record ExternalToolResult(int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>
/// Runs a system tool (lvcreate, qemu-img) directly, never through a shell: arguments are
/// passed one by one, standard input is empty, and no key ever goes on the command line. Only
/// the exit code and JSON output are used; error text is passed on to the user, never parsed.
/// </summary>
internal static class ExternalTool
{
    /// <summary>Throws <see cref="FileNotFoundException"/> when the tool is not installed, naming
    /// <paramref name="package"/> as the fix.</summary>
    public static Task<ExternalToolResult> RunAsync(string program, IEnumerable<string> arguments, string package, CancellationToken cancellationToken) =>
        RunAsync(program, arguments, environment: null, package, cancellationToken);

    /// <summary>As above, with <paramref name="environment"/> set on top of this process's own
    /// environment.</summary>
    public static async Task<ExternalToolResult> RunAsync(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment, string package, CancellationToken cancellationToken)
    {
        using var process = ToolProcess.Start(program, arguments, environment, cause => cause is null
            ? new IOException($"cannot start {program}")
            : new FileNotFoundException($"{program} is not available ({cause.Message}); install the Debian package {package}", program, cause));
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await ToolProcess.WaitForExitOrKillAsync(process, cancellationToken).ConfigureAwait(false);
        return new ExternalToolResult(process.ExitCode, await stdout.ConfigureAwait(false), (await stderr.ConfigureAwait(false)).Trim());
    }
}
