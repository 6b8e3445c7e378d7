using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Unlock;

namespace LuksVirt.Tests.Passphrases;

/// <summary>
/// <c>luksvirt unlock --ask</c> on a real pseudo-terminal against real libvirtd and QEMU: the
/// passphrase is typed with echo off, one passphrase opens every disk it fits, a wrong one is
/// asked again, and the terminal never shows what was typed.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class AskPassphraseTests(LibvirtdFixture libvirtd) : IDisposable
{
    /// <summary>Test-only passphrases (typed, so printable).</summary>
    // Random per run: the test's own source file must not hold the passphrase the leak scan looks for.
    private readonly string _right = "correct horse battery staple " + Guid.NewGuid().ToString("N");
    private const string Wrong = "not the passphrase at all";

    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    private TestKey Passphrase(string text) =>
        _scenario.NewKeyFrom("passphrase", TerminalSession.Typed(text));

    [Fact]
    public void One_typed_passphrase_opens_every_disk_it_fits_after_a_wrong_one_and_is_never_echoed()
    {
        var s = _scenario;
        var typed = Passphrase(_right);
        var recovery = s.NewKey("recovery");
        var db = s.Guests.Define(EncryptedGuests.UniqueName("askdb"), s.Guests.CreateDisk("askdb-d0", "vda", new Dictionary<int, TestKey> { [0] = recovery, [1] = typed }));
        var web = s.Guests.Define(EncryptedGuests.UniqueName("askweb"),
            s.Guests.CreateDisk("askweb-d0", "vda", new Dictionary<int, TestKey> { [0] = recovery, [2] = typed }),
            s.Guests.CreateDisk("askweb-d1", "vdb", new Dictionary<int, TestKey> { [0] = recovery, [1] = typed }));

        var result = TerminalSession.Run(s.UnlockArguments("--ask", "--no-tang"), TerminalSession.Typed(Wrong), TerminalSession.Typed(_right));

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        Assert.Equal(DomainState.Running, s.Guests.StateOf(db));
        Assert.Equal(DomainState.Running, s.Guests.StateOf(web));
        Assert.Contains($"Passphrase for {string.Join(", ", new[] { db.Name, web.Name }.Order(StringComparer.Ordinal))}: ", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("That passphrase opened nothing more. Passphrase (attempt 2 of 3): ", result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain(_right, result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain(Wrong, result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain(_right, File.ReadAllText(s.LogPath), StringComparison.Ordinal);
        Assert.Empty(new KeyLeakScanner([typed]).ScanFiles(KeyLeakScanner.HostRoots, new HashSet<string>()));
    }

    [Fact]
    public void Three_wrong_passphrases_leave_the_guest_off_and_end_the_asking()
    {
        var s = _scenario;
        var typed = Passphrase(_right);
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("askno"), s.Guests.CreateDisk("askno-d0", "vda", new Dictionary<int, TestKey> { [1] = typed }));

        var result = TerminalSession.Run(s.UnlockArguments("--ask", "--no-tang"), TerminalSession.Typed(Wrong), TerminalSession.Typed("x"), TerminalSession.Typed("y"));

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(guest));
        Assert.Contains("No more attempts (3).", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_terminal_ask_is_refused_with_the_fix_and_nothing_changes()
    {
        var s = _scenario;
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("asktty"), s.Guests.CreateDisk("asktty-d0", "vda", new Dictionary<int, TestKey> { [1] = s.NewKey("alice") }));

        // setsid: no controlling terminal, as under systemd.
        var (file, prefix) = LuksVirtCli.Command();
        var result = ToolRunner.Run("setsid", [file, .. prefix, .. s.UnlockArguments("--ask", "--no-tang")]);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(guest));
        Assert.Contains("--ask needs a terminal to ask on", result.StandardError, StringComparison.Ordinal);
    }
}
