using LuksVirt.Core.KeySources.Passphrase;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Unlock;

namespace LuksVirt.Tests.Passphrases;

/// <summary>
/// <c>luksvirt unlock --ask-agent</c> against real libvirtd and QEMU, answered through
/// /run/systemd/ask-password by <see cref="MinimalPasswordAgent"/> (the requests it answers are
/// the ones naming this test's guests): a wrong passphrase is asked again, the right one starts
/// every guest it fits, and the passphrase is left nowhere; a passphrase QEMU cannot take is
/// refused with the reason, and declining ends the run with the guests off.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class AskAgentUnlockTests(LibvirtdFixture libvirtd) : IDisposable
{
    // Random per run: the test's own source file must not hold the passphrase the leak scan looks for.
    private readonly string _right = "correct horse battery staple " + Guid.NewGuid().ToString("N");
    private const string Wrong = "not the passphrase either";

    private readonly UnlockScenario _scenario = new(libvirtd);
    private readonly MinimalPasswordAgent _agent = new(PasswordAgentKeySource.SystemDirectory);

    public void Dispose() => _scenario.Dispose();

    private Task<ToolResult> UnlockInBackground() =>
        Task.Run(() => LuksVirtCli.Run(_scenario.UnlockArguments("--ask-agent", "--no-tang"), TimeSpan.FromMinutes(3)));

    [Fact]
    public async Task A_passphrase_answered_through_an_agent_opens_every_disk_it_fits_after_a_wrong_one()
    {
        var s = _scenario;
        Directory.CreateDirectory(PasswordAgentKeySource.SystemDirectory);
        var typed = s.NewKeyFrom("passphrase", TerminalSession.Typed(_right));
        var recovery = s.NewKey("recovery");
        var db = s.Guests.Define(EncryptedGuests.UniqueName("agentdb"), s.Guests.CreateDisk("agentdb-d0", "vda", new Dictionary<int, TestKey> { [0] = recovery, [1] = typed }));
        var web = s.Guests.Define(EncryptedGuests.UniqueName("agentweb"), s.Guests.CreateDisk("agentweb-d0", "vda", new Dictionary<int, TestKey> { [0] = recovery, [2] = typed }));
        var guests = string.Join(", ", new[] { db.Name, web.Name }.Order(StringComparer.Ordinal));

        var run = UnlockInBackground();
        MinimalPasswordAgent.Answer(await _agent.WaitForRequestAsync($"passphrase for guests {guests}:"), TerminalSession.Typed(Wrong));
        var again = await _agent.WaitForRequestAsync($"passphrase for guests {guests} (attempt 2 of 3):");
        Assert.StartsWith("That passphrase opened nothing more.", again.Message, StringComparison.Ordinal);
        MinimalPasswordAgent.Answer(again, typed.Secret.Span);
        var result = await run;

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        Assert.Equal(DomainState.Running, s.Guests.StateOf(db));
        Assert.Equal(DomainState.Running, s.Guests.StateOf(web));
        Assert.DoesNotContain(_agent.Pending(), r => r.Message.Contains(db.Name, StringComparison.Ordinal));
        Assert.DoesNotContain(_right, result.StandardOutput + result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(_right, File.ReadAllText(s.LogPath), StringComparison.Ordinal);
        Assert.Empty(new KeyLeakScanner([typed]).ScanFiles(KeyLeakScanner.HostRoots, new HashSet<string>()));
    }

    [Fact]
    public async Task A_passphrase_QEMU_cannot_take_is_refused_with_the_reason_and_declining_ends_the_run()
    {
        var s = _scenario;
        Directory.CreateDirectory(PasswordAgentKeySource.SystemDirectory);
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("agentno"), s.Guests.CreateDisk("agentno-d0", "vda", new Dictionary<int, TestKey> { [1] = s.NewKey("alice") }));

        var run = UnlockInBackground();
        MinimalPasswordAgent.Answer(await _agent.WaitForRequestAsync($"passphrase for guests {guest.Name}:"), [0xc3, 0x28, 0x41]);
        var again = await _agent.WaitForRequestAsync($"passphrase for guests {guest.Name} (attempt 2 of 3):");
        Assert.StartsWith("That passphrase is not UTF-8 text", again.Message, StringComparison.Ordinal);
        MinimalPasswordAgent.Decline(again);
        var result = await run;

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(guest));
        Assert.Contains("password agent (attempt 1)", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("QEMU", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("declined at the password agent", File.ReadAllText(s.LogPath), StringComparison.Ordinal);
        Assert.DoesNotContain(_agent.Pending(), r => r.Message.Contains(guest.Name, StringComparison.Ordinal));
    }
}
