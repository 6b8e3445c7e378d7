using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Passphrases;

/// <summary>
/// Runs a program on a pseudo-terminal of its own (its controlling terminal, as at a console or
/// over ssh -t) and types one answer as a person would: once the screen shows a marker and the
/// terminal's echo is off (systemd's agent writes its question before it turns echo off, so typing
/// on sight alone could be echoed). Python's pty support drives it; the answer travels on standard
/// input, never in an argument. Returns what the screen showed, then "echo after exit: True|False"
/// (the terminal reopened once the program is gone), and the program's exit code.
/// </summary>
public static class PseudoTerminalTypist
{
    /// <summary>The driver, shared with the lab (scripts/lab/pty-type.py).</summary>
    private static readonly string Driver = Repository.PathOf("scripts/lab/pty-type.py");

    /// <param name="marker">What the screen must show before <paramref name="answer"/> is typed.</param>
    /// <param name="answer">The keys typed, e.g. a passphrase and "\n", or Ctrl-C alone.</param>
    /// <param name="command">The program and its arguments.</param>
    public static ToolResult Run(string marker, byte[] answer, IEnumerable<string> command) =>
        // The limit only guards against a hang; it is never a measured timing.
        ToolRunner.Run("python3", [Driver, marker, .. command], answer, TimeSpan.FromMinutes(2));

    /// <summary>The arguments that run <paramref name="command"/> through python on a pseudo-terminal
    /// (for a caller that must wrap the whole, e.g. in a mount namespace).</summary>
    public static IEnumerable<string> Arguments(string marker, IEnumerable<string> command) => ["python3", Driver, marker, .. command];
}
