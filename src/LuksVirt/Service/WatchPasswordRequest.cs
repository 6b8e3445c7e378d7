using System.Globalization;
using LuksVirt.Core.KeySources;
using LuksVirt.Core.KeySources.Passphrase;
using LuksVirt.Core.Logging;

namespace LuksVirt.Service;

/// <summary>
/// The watch's passphrase request through systemd's password agents (<c>watch --ask-password</c>):
/// posted once the start-up work (sticks present, Tang bindings) leaves guests off, naming them,
/// so that <c>systemd-tty-ask-password-agent --query</c> on a console or over SSH can answer it.
/// Each answer is handed to the service's worker (<paramref name="runAnswer"/>, which owns it from
/// then on) and run like a stick's keys; while guests stay off the request is posted again, up to
/// <see cref="PasswordAgentKeySource.MaxAttempts"/> times, then again after a pause.
/// </summary>
/// <remarks>
/// The request is withdrawn, and not posted again, once no guest in scope waits: the worker says
/// so after a run of its own (<see cref="Withdraw"/>), and a check every
/// <paramref name="checkEvery"/> sees guests started another way (an administrator's
/// <c>luksvirt unlock</c>). It is withdrawn too when the service stops, and when the person at the
/// agent declines.
/// </remarks>
/// <param name="waitingContainers">The containers of guests in scope that do not run, with their
/// guests (null: cannot tell now).</param>
/// <param name="runAnswer">Runs one answer; true when every guest in scope runs afterwards.</param>
internal sealed class WatchPasswordRequest(
    ActivityLog log,
    Func<IReadOnlyList<ContainerInScope>?> waitingContainers,
    Func<IKeyPresentation, CancellationToken, Task<bool>> runAnswer,
    TimeSpan checkEvery,
    TimeSpan pauseAfterAttempts) : IDisposable
{
    private readonly CancellationTokenSource _withdraw = new();
    private Task _asking = Task.CompletedTask;
    private int _started;

    /// <summary>Starts asking, on a task of its own; a second call does nothing.</summary>
    public void Start(CancellationToken stopping)
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _asking = Task.Run(() => AskAsync(stopping), CancellationToken.None);
        }
    }

    /// <summary>Every guest in scope runs: the request (if one stands) goes, and none is posted again.</summary>
    public void Withdraw()
    {
        if (!_withdraw.IsCancellationRequested)
        {
            _withdraw.Cancel();
        }
    }

    /// <summary>Waits until the request is gone (the service stops: its token is cancelled).</summary>
    public Task StoppedAsync() => _asking;

    /// <summary>Once <see cref="StoppedAsync"/> completed.</summary>
    public void Dispose() => _withdraw.Dispose();

    private async Task AskAsync(CancellationToken stopping)
    {
        using var asking = CancellationTokenSource.CreateLinkedTokenSource(stopping, _withdraw.Token);
        var token = asking.Token;
        var watchdog = WithdrawWhenNobodyWaitsAsync(token);
        try
        {
            while (true)
            {
                var waiting = waitingContainers();
                if (waiting is { Count: 0 })
                {
                    log.Info("every guest in scope runs: no passphrase asked");
                    return;
                }

                if (await AskRoundAsync(waiting ?? [], token, stopping).ConfigureAwait(false))
                {
                    log.Notice("the passphrase started every guest in scope; nothing more is asked");
                    return;
                }

                log.Warning(string.Create(CultureInfo.InvariantCulture,
                    $"passphrase request: {PasswordAgentKeySource.DefaultMaxAttempts} answers opened nothing more; asking again in {pauseAfterAttempts.TotalSeconds:0} s"));
                await Task.Delay(pauseAfterAttempts, token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            if (!stopping.IsCancellationRequested)
            {
                log.Notice("passphrase request withdrawn: every guest in scope runs");
            }
        }
        catch (IOException e)
        {
            // Declined at the agent, or the request could not be posted (no /run/systemd).
            log.Warning($"passphrase request: {e.Message}; a stick, Tang, luksvirt unlock --ask or restarting the service can still open the guests");
        }
        finally
        {
            await asking.CancelAsync().ConfigureAwait(false);
            await watchdog.ConfigureAwait(false);
        }
    }

    /// <summary>One request and its attempts; true when an answer left no guest in scope off,
    /// false when the attempts are used up.</summary>
    private async Task<bool> AskRoundAsync(IReadOnlyList<ContainerInScope> waiting, CancellationToken token, CancellationToken stopping)
    {
        var guests = string.Join(", ", waiting.SelectMany(c => c.Guests).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
        log.Notice($"guests {guests} wait for a key: passphrase asked through systemd's password agents (answer with systemd-tty-ask-password-agent --query)");
        var source = new PasswordAgentKeySource();
        await foreach (var answer in source.PresentAsync(new KeySourceContext(() => waiting), token).ConfigureAwait(false))
        {
            // The worker owns the answer from here and runs it even if the request is withdrawn
            // meanwhile: only the service's stop stops the wait.
            if (await runAnswer(answer, stopping).ConfigureAwait(false))
            {
                return true;
            }

            // Opened another way while the answer ran: post nothing more.
            token.ThrowIfCancellationRequested();
        }

        return false;
    }

    /// <summary>Guests started by another process: checked every <c>checkEvery</c>, since no run of
    /// this service tells.</summary>
    private async Task WithdrawWhenNobodyWaitsAsync(CancellationToken token)
    {
        try
        {
            while (true)
            {
                await Task.Delay(checkEvery, token).ConfigureAwait(false);
                if (waitingContainers() is { Count: 0 })
                {
                    Withdraw();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
