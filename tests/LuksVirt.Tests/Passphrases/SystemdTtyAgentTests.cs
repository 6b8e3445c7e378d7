using LuksVirt.Core.KeySources;
using LuksVirt.Core.KeySources.Passphrase;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Passphrases;

/// <summary>
/// systemd's own <c>systemd-tty-ask-password-agent</c> as the witness: it answers LuksVirt's
/// request through a pseudo-terminal where a person types, and lists nothing once the request
/// is withdrawn. The agent reads /run/systemd/ask-password only, so it runs in a mount namespace
/// of its own with the test's private request directory mounted there: it sees this test's
/// request and no other (no systemd as PID 1 needed).
/// </summary>
public sealed class SystemdTtyAgentTests : IDisposable
{
    private const string Agent = "/usr/bin/systemd-tty-ask-password-agent";
    private const string Typed = "typed into the agent 7";

    /// <summary>Runs the agent (argv after "sh") with the request directory ($0) mounted where it looks.</summary>
    private const string InNamespace = "mount --bind \"$0\" " + PasswordAgentKeySource.SystemDirectory + " && exec \"$@\"";

    private readonly TempDirectory _dir = new("ask");
    private readonly string _guest = "agent-" + Guid.NewGuid().ToString("N")[..8];
    private readonly CancellationTokenSource _limit = new(TimeSpan.FromMinutes(2));

    public SystemdTtyAgentTests()
    {
        Assert.True(File.Exists(Agent), $"{Agent} is missing: scripts/setup.sh installs the systemd package");
        Directory.CreateDirectory(PasswordAgentKeySource.SystemDirectory);
    }

    public void Dispose()
    {
        _limit.Dispose();
        _dir.Dispose();
    }

    private IAsyncEnumerator<IKeyPresentation> Present(CancellationToken cancellationToken) =>
        new PasswordAgentKeySource(directory: _dir.Path)
            .PresentAsync(new KeySourceContext(() => [new ContainerInScope("/srv/a.luks", [_guest])]), cancellationToken)
            .GetAsyncEnumerator(cancellationToken);

    [Fact]
    public async Task The_real_tty_agent_answers_through_a_pseudo_terminal_without_showing_the_passphrase()
    {
        await using var batches = Present(_limit.Token);
        var next = batches.MoveNextAsync().AsTask();
        await new MinimalPasswordAgent(_dir.Path).WaitForRequestAsync(_guest);

        var screen = await Task.Run(() => ToolRunner.Run("unshare",
            ["--mount", "sh", "-c", InNamespace, _dir.Path, .. PseudoTerminalTypist.Arguments(_guest, [Agent, "--query"])],
            TerminalSession.Typed(Typed + "\n"), TimeSpan.FromMinutes(2)));

        Assert.True(screen.ExitCode == 0, screen.StandardError + screen.StandardOutput);
        Assert.Contains($"LuksVirt: passphrase for guests {_guest}:", screen.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain(Typed, screen.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("echo after exit: True", screen.StandardOutput, StringComparison.Ordinal);
        Assert.True(await next);
        using var batch = batches.Current;
        Assert.Equal(TerminalSession.Typed(Typed), Assert.Single(batch.Keys).Secret.Span.ToArray());
        Assert.Equal("password agent (attempt 1)", batch.Keys[0].Source);
    }

    [Fact]
    public async Task The_real_agent_lists_the_request_while_it_stands_and_nothing_once_it_is_withdrawn()
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_limit.Token);
        var batches = Present(stop.Token);
        var next = batches.MoveNextAsync().AsTask();
        await new MinimalPasswordAgent(_dir.Path).WaitForRequestAsync(_guest);
        var standing = List();

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next);
        await batches.DisposeAsync();
        var withdrawn = List();

        Assert.Contains($"LuksVirt: passphrase for guests {_guest}:", standing, StringComparison.Ordinal);
        Assert.Equal("", withdrawn);
    }

    private string List()
    {
        var result = ToolRunner.Run("unshare", ["--mount", "sh", "-c", InNamespace, _dir.Path, Agent, "--list"]);
        Assert.True(result.ExitCode == 0, result.StandardError);
        return result.StandardOutput;
    }
}
