using LuksVirt.Core.Inventory;
using LuksVirt.Core.Keys;
using LuksVirt.Core.KeySources;
using LuksVirt.Core.KeySources.Quorum;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Runs;
using LuksVirt.Core.State;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Unlock;

/// <summary>
/// One unlock run from start to report, for every front end (<c>unlock</c>, <c>usb</c>, the
/// <c>watch</c> service): no core dumps while keys are in memory, SIGINT/SIGTERM stop it cleanly,
/// one run at a time (<see cref="RunLock"/>), keys from the key sources (<see cref="IKeySource"/>),
/// the trials, activation and start (<see cref="UnlockRunner"/>), and whatever happens the keys are
/// zeroed and the key files wiped. Front ends translate options, print the report and map the
/// <see cref="UnlockOutcome"/> to what they say (an exit code, a log line).
/// </summary>
/// <remarks>
/// Refusing (<see cref="UnlockEnding.RefusedUnchanged"/>) means nothing was touched. So everything
/// the run is pointed at is checked first, before it waits for the lock and long before a key is
/// read: the configuration file, the state file path and the <c>--vm</c> names (against libvirt's
/// domains). Only then are the keys read, and their files wiped at once.
/// </remarks>
public sealed class UnlockEngine(UnlockOptions options, ActivityLog log)
{
    /// <summary>The configuration as <see cref="CheckInputs"/> read and checked it: every run of
    /// this engine uses it, so the file is read once.</summary>
    private InventoryConfig? _config;

    /// <summary>A whole run: hardening, signals, checks, the lock, then the keys of
    /// <paramref name="sources"/>, read in order, batch by batch. Each batch's files are wiped as
    /// soon as it is read, and the run goes again with every key presented so far, until every
    /// guest in scope runs or the sources have nothing more to present.</summary>
    public async Task<UnlockOutcome> RunAsync(IReadOnlyList<IKeySource> sources, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ProcessHardening.DisableDumping();
        using var stop = StopSignals.Listen(cancellationToken);
        if (CheckInputs() is { } refused)
        {
            return refused;
        }

        FileLock runLock;
        try
        {
            runLock = RunLock.AcquireForCommand(log, stop.Token);
        }
        catch (TimeoutException e)
        {
            log.Error($"{e.Message}; nothing was changed");
            return new UnlockOutcome(UnlockEnding.SomeFailed);
        }
        catch (OperationCanceledException)
        {
            log.Error("interrupted while waiting for the run lock; nothing was changed");
            return new UnlockOutcome(UnlockEnding.SomeFailed);
        }

        using (runLock)
        {
            // Quorum shares from any source are held here until their quorum is met, and wiped
            // with the rest when the run ends (before the lock goes): trials only see whole keys.
            using var shares = new QuorumShares();
            return await RunBatchesAsync([.. sources.Select(shares.Over)], stop.Token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The run for a long-running caller that already holds the run lock and owns the
    /// cancellation (the watch service): the inputs are checked, then <paramref name="sources"/>
    /// are read in order as in <see cref="RunAsync"/>, their quorum shares kept in
    /// <paramref name="shareWindow"/> across runs (the caller calls its
    /// <see cref="QuorumShareWindow.AfterRun"/>). Sources that present nothing (no Tang binding in
    /// scope) end the run quietly, with no report.
    /// </summary>
    public async Task<UnlockOutcome> RunLockedAsync(IReadOnlyList<IKeySource> sources, QuorumShareWindow shareWindow, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(shareWindow);
        if (CheckInputs() is { } refused)
        {
            return refused;
        }

        return await RunBatchesAsync([.. sources.Select(shareWindow.Shares.Over)], cancellationToken, nothingPresentedIsAnError: false).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the sources one after the other and runs on each batch with every key presented so
    /// far; whatever happens, every batch is zeroed before it returns. A source refused before any
    /// key was used refuses the run (nothing changed); a failure after a run ends with that run's
    /// report.
    /// </summary>
    private async Task<UnlockOutcome> RunBatchesAsync(IReadOnlyList<IKeySource> sources, CancellationToken cancellationToken, bool nothingPresentedIsAnError = true)
    {
        var presented = new List<IKeyPresentation>();
        try
        {
            return await ReadAndRunAsync(sources, presented, nothingPresentedIsAnError, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            presented.ForEach(p => p.Dispose());
        }
    }

    /// <summary><see cref="RunBatchesAsync(IReadOnlyList{IKeySource}, CancellationToken, bool)"/>'s
    /// work; <paramref name="presented"/> collects the batches for it to zero.</summary>
    private async Task<UnlockOutcome> ReadAndRunAsync(IReadOnlyList<IKeySource> sources, List<IKeyPresentation> presented, bool nothingPresentedIsAnError, CancellationToken cancellationToken)
    {
        UnlockOutcome? last = null;
        var context = new KeySourceContext(ContainersInScope);
        foreach (var source in sources)
        {
            var batches = source.PresentAsync(context, cancellationToken).GetAsyncEnumerator(cancellationToken);
            await using (batches.ConfigureAwait(false))
            {
                while (true)
                {
                    try
                    {
                        if (!await batches.MoveNextAsync().ConfigureAwait(false))
                        {
                            break;
                        }
                    }
                    catch (Exception e) when (e is IOException or OperationCanceledException)
                    {
                        return EndWithoutBatch(e, last);
                    }

                    presented.Add(batches.Current);
                    last = await RunCheckedAsync(presented, cancellationToken).ConfigureAwait(false);
                    if (last.Ending != UnlockEnding.SomeFailed || last.Report is not { Interrupted: false })
                    {
                        // Done, refused, interrupted or failed outright: more keys change nothing.
                        return last;
                    }
                }
            }
        }

        if (last is null)
        {
            if (nothingPresentedIsAnError)
            {
                log.Error("no key source presented any keys; nothing was changed");
            }

            return new UnlockOutcome(UnlockEnding.SomeFailed);
        }

        return last;
    }

    /// <summary>
    /// The containers of the guests in scope that do not run, as a run's key sources see them
    /// (<see cref="KeySourceContext"/>), for a caller that asks a person before any run (the
    /// watch's password-agent request) and checks whether anyone still waits. Null when it cannot
    /// tell: the inputs are refused (logged) or libvirt cannot be asked.
    /// </summary>
    public IReadOnlyList<ContainerInScope>? WaitingContainers()
    {
        if (CheckInputs() is not null)
        {
            return null;
        }

        try
        {
            return LoadWaitingContainers();
        }
        catch (Exception e) when (e is LibvirtException or ConfigurationException or UnknownGuestException)
        {
            // The domains changed since the check, or libvirt went away: ask again later.
            return null;
        }
    }

    /// <summary>For the sources' context: <see cref="LoadWaitingContainers"/>, empty when libvirt
    /// cannot be asked (the run reports that itself).</summary>
    private IReadOnlyList<ContainerInScope> ContainersInScope()
    {
        try
        {
            return LoadWaitingContainers();
        }
        catch (LibvirtException)
        {
            return [];
        }
    }

    /// <summary>The containers of the guests in scope that are not running, from the
    /// configuration <see cref="CheckInputs"/> checked.</summary>
    private IReadOnlyList<ContainerInScope> LoadWaitingContainers()
    {
        using var connection = LibvirtConnection.Open(options.ConnectUri);
        using var quiet = new ActivityLog(null, null);
        var inventory = LiveInventory.Load(connection, _config!, options.VmNames, quiet);
        return [.. inventory.Guests
            .Where(guest => !IsRunning(connection, guest.Uuid))
            .SelectMany(guest => guest.Disks.Select(disk => (disk.ContainerPath, guest.Name)))
            .GroupBy(d => d.ContainerPath, StringComparer.Ordinal)
            .Select(g => new ContainerInScope(g.Key, [.. g.Select(d => d.Name).Distinct(StringComparer.Ordinal)]))];
    }

    private static bool IsRunning(LibvirtConnection connection, Guid uuid)
    {
        using var domain = connection.LookupDomainByUuid(uuid);
        return domain.IsActive;
    }

    /// <summary>How the run ends when a source could not present its next batch.</summary>
    private UnlockOutcome EndWithoutBatch(Exception e, UnlockOutcome? last)
    {
        switch (e)
        {
            case KeySourceRefusedException when last is null:
                log.Error(e.Message);
                return new UnlockOutcome(UnlockEnding.RefusedUnchanged);
            case OperationCanceledException:
                log.Warning("unlock interrupted while waiting for keys: keys wiped; guests not yet started stay off");
                break;
            default:
                // No FAT file system, a damaged one, or a stick pulled mid-read: no key was kept.
                log.Error($"cannot read keys: {e.Message}");
                break;
        }

        return (last ?? new UnlockOutcome(UnlockEnding.SomeFailed)) with { Ending = UnlockEnding.SomeFailed };
    }

    /// <summary>
    /// Everything that would make the run refuse, checked while nothing is touched: the
    /// configuration file, the state file path, the <c>--vm</c> names (when libvirt answers).
    /// Returns the refusal, or null when the run may go on.
    /// </summary>
    private UnlockOutcome? CheckInputs()
    {
        InventoryConfig config;
        try
        {
            config = InventoryConfigLoader.LoadExplicitOrDefault(options.ConfigPath);
        }
        catch (ConfigurationException e)
        {
            log.Error(e.Message);
            return new UnlockOutcome(UnlockEnding.RefusedUnchanged);
        }

        _config = config;
        if (new UnlockStateStore(options.StatePath).CheckPath() is { } stateProblem)
        {
            log.Error(stateProblem);
            return new UnlockOutcome(UnlockEnding.RefusedUnchanged);
        }

        try
        {
            using var connection = LibvirtConnection.Open(options.ConnectUri);
            LiveInventory.Validate(connection, config, options.VmNames);
        }
        catch (UnknownGuestException e)
        {
            log.Error(e.Message);
            return new UnlockOutcome(UnlockEnding.RefusedUnchanged);
        }
        catch (LibvirtException)
        {
            // libvirt unreachable is a failure of the run, not of its inputs: the run goes on,
            // reads and wipes the presented keys (no key is left behind, reliability fault 8),
            // and reports the lost connection with its fix (exit 1).
        }

        return null;
    }

    /// <summary>The run once its inputs passed <see cref="CheckInputs"/>, on the batches presented
    /// so far (the last one new): wipe the new batch's source, then the runner with every key.</summary>
    private async Task<UnlockOutcome> RunCheckedAsync(List<IKeyPresentation> presented, CancellationToken cancellationToken)
    {
        // The keys are in locked memory now: their files go at once, not after the run,
        // so no failure, interruption or kill later on can leave them behind.
        WipeUnlessDryRun(presented[^1]);
        var keysReport = KeysReport.Combine([.. presented.Select(p => p.Report)]);
        try
        {
            IReadOnlyList<PresentedKey> keys = presented.Count == 1 ? presented[0].Keys : [.. presented.SelectMany(p => p.Keys)];
            var report = await new UnlockRunner(options, log).RunAsync(_config, keys, keysReport, cancellationToken).ConfigureAwait(false);
            // A refused key file stays in the key directory and its key was not used: the run did
            // not do all it was asked, and the administrator has a file to deal with.
            var refusedKeyFiles = presented.Any(p => p.LeftRefusedKeyFiles);
            return new UnlockOutcome(report.AllGuestsRunning && !refusedKeyFiles ? UnlockEnding.AllDone : UnlockEnding.SomeFailed, report);
        }
        catch (Exception e) when (e is ConfigurationException or UnknownGuestException)
        {
            // Checked before the keys were read, so the domains changed since: once key files are
            // gone, "nothing was changed" is no longer true.
            if (keysReport.Deleted)
            {
                log.Error($"{e.Message} (changed during the run; the presented key files were already deleted)");
                return new UnlockOutcome(UnlockEnding.SomeFailed);
            }

            log.Error(e.Message);
            return new UnlockOutcome(UnlockEnding.RefusedUnchanged);
        }
        catch (OperationCanceledException)
        {
            log.Warning("unlock interrupted: keys wiped; guests not yet started stay off");
            return new UnlockOutcome(UnlockEnding.SomeFailed);
        }
        catch (LibvirtException e)
        {
            log.Error($"libvirt: {e.Message}; is libvirtd running? (systemctl start libvirtd)");
            return new UnlockOutcome(UnlockEnding.SomeFailed);
        }
    }

    private void WipeUnlessDryRun(IKeyPresentation keys)
    {
        if (options.DryRun)
        {
            return;
        }

        try
        {
            keys.WipeSource();
            if (keys.Report.Deleted)
            {
                var unlocked = keys.Keys.Count(k => !k.Secret.IsMemoryLocked);
                log.Info(unlocked == 0
                    ? $"presented key files deleted; {keys.Keys.Count} key(s) stay in locked memory until the run ends"
                    : $"presented key files deleted; {keys.Keys.Count} key(s) stay in memory until the run ends ({unlocked} not on locked pages: see luksvirt doctor)");
            }
        }
        catch (IOException e)
        {
            log.Error($"cannot delete presented key files: {e.Message}; delete them by hand");
        }
    }
}
