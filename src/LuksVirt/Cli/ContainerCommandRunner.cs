using LuksVirt.Core.Containers;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Cli;

/// <summary>
/// What the keys and header commands share: reading the authorising key, and turning every
/// refusal or failure into one message on standard error (plus a JSON error with --json) and the
/// contract's exit code: 2 when the request was refused and nothing changed, 1 when it failed.
/// </summary>
internal static class ContainerCommandRunner
{
    public static int Run(bool json, Func<int> command)
    {
        try
        {
            return command();
        }
        catch (Exception e) when (IsReported(e))
        {
            return Report(json, e);
        }
    }

    /// <summary><see cref="Run"/> for commands that talk to the network (keys bind, rebind).</summary>
    public static async Task<int> RunAsync(bool json, Func<Task<int>> command)
    {
        try
        {
            return await command().ConfigureAwait(false);
        }
        catch (Exception e) when (IsReported(e))
        {
            return Report(json, e);
        }
    }

    private static bool IsReported(Exception e) =>
        e is ContainerRefusedException or WrongKeyException or TimeoutException or IOException or UnauthorizedAccessException;

    private static int Report(bool json, Exception e) => e switch
    {
        ContainerRefusedException => Fail(json, ExitCodes.Usage, e.Message),
        WrongKeyException => Fail(json, ExitCodes.Failure, $"{e.Message}; check the key given with --key-file. Nothing was changed."),
        SlotChangeFailedException failed => Fail(json, ExitCodes.Failure, failed.Message, failed.Rollback == RollbackOutcome.Verified ? "verified" : "failed", failed.RescueFile),
        _ => Fail(json, ExitCodes.Failure, e.Message),
    };

    /// <summary>A usage mistake found before any work: exit 2.</summary>
    public static int Refuse(bool json, string message) => Fail(json, ExitCodes.Usage, message);

    /// <summary><c>--key-file FILE</c> (no links, regular files only) or <c>--key-file -</c> (standard input, to its end).</summary>
    public static SecretBuffer ReadKey(string keyFile)
    {
        // No core dumps and no ptrace by non-root from here on: key bytes are about to be in memory.
        ProcessHardening.DisableDumping();
        if (keyFile != "-")
        {
            return KeyInput.ReadFile(keyFile);
        }

        using var input = Console.OpenStandardInput();
        return KeyInput.ReadToEnd(input);
    }

    private static int Fail(bool json, int exitCode, string message, string? rollback = null, string? rescueFile = null)
    {
        Console.Error.WriteLine($"luksvirt: {message}");
        if (json)
        {
            JsonOutput.Write(new CommandErrorReport(message, exitCode, rollback, rescueFile), CliJsonContext.Default.CommandErrorReport);
        }

        return exitCode;
    }
}
