using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Unlock;

namespace LuksVirt.Tests.Packaging;

/// <summary>
/// packaging/bash-completion/luksvirt in a real bash, as bash-completion runs it: COMP_* set,
/// the function called, COMPREPLY read back. luksvirt (the build under test) is first on PATH.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class BashCompletionTests(LibvirtdFixture libvirtd) : IDisposable
{
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public void Tab_after_the_program_offers_every_command()
    {
        var offered = Complete("luksvirt ");

        Assert.Superset(new HashSet<string> { "unlock", "usb", "watch", "lock", "status", "doctor", "keys", "header", "bench", "create", "encrypt-vm" }, offered.ToHashSet());
        Assert.DoesNotContain("/?", offered);
    }

    [Fact]
    public void Tab_after_a_dash_offers_the_commands_own_options()
    {
        var offered = Complete("luksvirt unlock --");

        Assert.Superset(new HashSet<string> { "--keys", "--vm", "--dry-run", "--json", "--config", "--connect", "--log", "--state" }, offered.ToHashSet());
        Assert.DoesNotContain("--timeout", offered);   // lock's, not unlock's
        Assert.Equal(["--prometheus"], Complete("luksvirt status --pro"));
    }

    [Fact]
    public void Tab_after_vm_offers_the_guests_libvirt_knows()
    {
        var guest = _scenario.Guests.Define(EncryptedGuests.UniqueName("complete"),
            _scenario.Guests.CreateDisk("complete-d0", "vda", new Dictionary<int, TestKey> { [1] = _scenario.NewKey("alice") }));

        Assert.Contains(guest.Name, Complete("luksvirt lock --vm "));
        Assert.Equal([guest.Name], Complete($"luksvirt encrypt-vm {guest.Name[..^2]}"));
    }

    /// <summary>What bash offers for <paramref name="line"/> with the cursor at its end.</summary>
    private string[] Complete(string line)
    {
        var (file, prefix) = LuksVirtCli.Command();
        var bin = _scenario.Directory.PathOf("bin");
        Directory.CreateDirectory(bin);
        var wrapper = Path.Combine(bin, "luksvirt");
        File.WriteAllText(wrapper, $"#!/bin/sh\nexec {string.Join(' ', new[] { file }.Concat(prefix).Select(Quote))} \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var script = $$"""
            source {{Quote(Repository.PathOf("packaging/bash-completion/luksvirt"))}}
            COMP_LINE={{Quote(line)}}
            COMP_POINT=${#COMP_LINE}
            read -ra COMP_WORDS <<<"$COMP_LINE"
            [[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
            COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            _luksvirt
            printf '%s\n' "${COMPREPLY[@]}"
            """;
        var result = ToolRunner.Run("bash", ["-c", script], environment: new Dictionary<string, string> { ["PATH"] = $"{bin}:{Environment.GetEnvironmentVariable("PATH")}" });
        Assert.True(result.ExitCode == 0, result.StandardError);
        return result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
