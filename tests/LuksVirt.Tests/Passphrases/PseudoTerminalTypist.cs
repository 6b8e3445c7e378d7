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
    private const string Driver = """
        import os, sys, termios, fcntl, time
        marker, answer = sys.argv[1].encode(), sys.stdin.buffer.read()
        master, slave = os.openpty()
        name = os.ttyname(slave)
        pid = os.fork()
        if pid == 0:
            os.setsid(); fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2): os.dup2(slave, fd)
            os.close(master); os.close(slave)
            os.execvp(sys.argv[2], sys.argv[2:])
        os.close(slave)
        def echoing():
            fd = os.open(name, os.O_RDWR | os.O_NOCTTY)
            try: return termios.tcgetattr(fd)[3] & termios.ECHO != 0
            finally: os.close(fd)
        seen, typed = b"", False
        while True:
            try: chunk = os.read(master, 4096)
            except OSError: chunk = b""
            if not chunk: break
            seen += chunk
            if not typed and marker in seen:
                while echoing(): time.sleep(0.01)
                os.write(master, answer); typed = True
        status = os.waitpid(pid, 0)[1]
        sys.stdout.buffer.write(seen + b"\necho after exit: " + str(echoing()).encode() + b"\n")
        sys.exit(os.waitstatus_to_exitcode(status))
        """;

    /// <param name="marker">What the screen must show before <paramref name="answer"/> is typed.</param>
    /// <param name="answer">The keys typed, e.g. a passphrase and "\n", or Ctrl-C alone.</param>
    /// <param name="command">The program and its arguments.</param>
    public static ToolResult Run(string marker, byte[] answer, IEnumerable<string> command) =>
        // The limit only guards against a hang; it is never a measured timing.
        ToolRunner.Run("python3", ["-c", Driver, marker, .. command], answer, TimeSpan.FromMinutes(2));

    /// <summary>The arguments that run <paramref name="command"/> through python on a pseudo-terminal
    /// (for a caller that must wrap the whole, e.g. in a mount namespace).</summary>
    public static IEnumerable<string> Arguments(string marker, IEnumerable<string> command) => ["python3", "-c", Driver, marker, .. command];
}
