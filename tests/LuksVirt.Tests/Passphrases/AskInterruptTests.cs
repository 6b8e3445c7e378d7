using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Unlock;

namespace LuksVirt.Tests.Passphrases;

/// <summary>
/// Ctrl-C at the <c>unlock --ask</c> prompt on a real pseudo-terminal: the run ends at once (the
/// read waits in poll, which the cancellation wakes) instead of waiting for Enter, the guest stays
/// off, and the terminal echoes again afterwards.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class AskInterruptTests(LibvirtdFixture libvirtd) : IDisposable
{
    /// <summary>Runs argv[1:] on a pseudo-terminal as its controlling terminal, types Ctrl-C (and
    /// nothing else) once a prompt ending in ":" shows, and after the program exits reopens the
    /// terminal to report whether it echoes.</summary>
    private const string CtrlCAtThePrompt = """
        import os, sys, termios, fcntl
        master, slave = os.openpty()
        name = os.ttyname(slave)
        pid = os.fork()
        if pid == 0:
            os.setsid(); fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2): os.dup2(slave, fd)
            os.close(master); os.close(slave)
            os.execvp(sys.argv[1], sys.argv[1:])
        os.close(slave)
        seen, sent = b"", False
        while True:
            try: chunk = os.read(master, 4096)
            except OSError: chunk = b""
            if not chunk: break
            seen += chunk
            if not sent and seen.rstrip().endswith(b":"): os.write(master, b"\x03"); sent = True
        status = os.waitpid(pid, 0)[1]
        echo = termios.tcgetattr(os.open(name, os.O_RDWR | os.O_NOCTTY))[3] & termios.ECHO != 0
        sys.stdout.buffer.write(seen + b"\necho after exit: " + str(echo).encode() + b"\n")
        sys.exit(os.waitstatus_to_exitcode(status))
        """;

    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public void Ctrl_C_at_the_prompt_ends_the_run_with_the_guest_off_and_echo_restored()
    {
        var s = _scenario;
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("askint"), s.Guests.CreateDisk("askint-d0", "vda", new Dictionary<int, TestKey> { [1] = s.NewKey("alice") }));
        var (file, prefix) = LuksVirtCli.Command();

        // The limit only guards against a hang (a read that waits for Enter); it is not a measured timing.
        var result = ToolRunner.Run("python3", ["-c", CtrlCAtThePrompt, file, .. prefix, .. s.UnlockArguments("--ask", "--no-tang")], timeout: TimeSpan.FromMinutes(1));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"Passphrase for {guest.Name}: ", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("unlock interrupted while waiting for keys", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("echo after exit: True", result.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(guest));
    }
}
