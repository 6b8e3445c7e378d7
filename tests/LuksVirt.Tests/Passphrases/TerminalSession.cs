using System.Text;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Passphrases;

/// <summary>
/// Runs luksvirt on a pseudo-terminal of its own (its controlling terminal, as at a console or
/// over ssh -t) and types answers as a person would: each only after a prompt asking for a
/// passphrase ("Passphrase ...:") has appeared. Python's pty module drives it; the answers travel on standard input,
/// never in an argument. Returns everything the terminal showed, and the exit code.
/// </summary>
public static class TerminalSession
{
    private const string Driver = """
        import os, pty, sys
        answers = sys.stdin.buffer.read().split(b"\n")[:-1]
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp(sys.argv[1], sys.argv[1:])
        seen = b""
        prompts = 0
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            while prompts < len(answers) and seen.count(b"Passphrase") > prompts and seen.rstrip().endswith(b":"):
                os.write(fd, answers[prompts] + b"\n")
                prompts += 1
        _, status = os.waitpid(pid, 0)
        sys.stdout.buffer.write(seen)
        sys.exit(os.waitstatus_to_exitcode(status))
        """;

    public static ToolResult Run(IEnumerable<string> arguments, params byte[][] answers)
    {
        Assert.True(File.Exists("/usr/bin/python3"), "the terminal tests drive a pseudo-terminal with python3 (scripts/setup.sh installs it)");
        var (file, prefix) = LuksVirtCli.Command();
        var input = new List<byte>();
        foreach (var answer in answers)
        {
            input.AddRange(answer);
            input.Add((byte)'\n');
        }

        return ToolRunner.Run("python3", ["-c", Driver, file, .. prefix, .. arguments], input.ToArray(), TimeSpan.FromMinutes(3));
    }

    public static byte[] Typed(string text) => Encoding.UTF8.GetBytes(text);
}
