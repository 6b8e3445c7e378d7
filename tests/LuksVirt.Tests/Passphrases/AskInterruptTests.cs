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
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public void Ctrl_C_at_the_prompt_ends_the_run_with_the_guest_off_and_echo_restored()
    {
        var s = _scenario;
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("askint"), s.Guests.CreateDisk("askint-d0", "vda", new Dictionary<int, TestKey> { [1] = s.NewKey("alice") }));
        var (file, prefix) = LuksVirtCli.Command();

        // Ctrl-C and nothing else: a read that waits for Enter hangs until the typist's limit.
        var result = PseudoTerminalTypist.Run($"Passphrase for {guest.Name}: ", [0x03], [file, .. prefix, .. s.UnlockArguments("--ask", "--no-tang")]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"Passphrase for {guest.Name}: ", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("unlock interrupted while waiting for keys", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("echo after exit: True", result.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(guest));
    }
}
