using System.Diagnostics;
using LuksVirt.Core.Activation;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Keys;
using LuksVirt.Core.KeySources;
using LuksVirt.Core.Logging;
using LuksVirt.Core.State;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Unlock;

/// <summary>
/// The main job: for every guest in scope that is not running, find which presented key opens
/// each of its disks (trials first, nothing activated yet), then only for guests whose disks
/// ALL open: hand the disks over (secret or mapping), start the guest, wait until it runs, and
/// remove what is no longer needed. A guest that cannot start is rolled back; the others go on.
/// </summary>
/// <remarks>
/// Once the configuration is loaded, the run always ends with a report, however it ends: a
/// failure of one guest (any exception) is that guest's report and its rollback; an interruption
/// (the token) stops the run between steps, and every guest is reported as it really is (a guest
/// whose start went through before the signal is reported started, its secrets removed). Only an
/// unusable configuration or libvirt connection at the start throws.
/// </remarks>
internal sealed class UnlockRunner(UnlockOptions options, ActivityLog log)
{
    /// <summary>Guests of one start group starting at once, at most (QEMU start-up is mostly
    /// waiting: page faults, file opens, QMP; more at once only adds load on a busy host).</summary>
    private const int MaxConcurrentStarts = 4;

    private const string InterruptedBeforeStart = "interrupted (SIGTERM or SIGINT) before its start";

    private readonly Func<LibvirtConnection, IDiskHandover> _handover = connection => new DiskHandover(connection, HypervisorAccount.FromQemuConf());
    private readonly Func<LibvirtConnection, IGuestStarter> _starter = connection => new GuestStarter(connection, options.StartTimeout);

    /// <summary>libcryptsetup and libdevmapper calls of concurrently starting guests go one at a time.</summary>
    private readonly System.Threading.Lock _deviceGate = new();

    /// <summary>Problems found while guests start (added from several threads).</summary>
    private readonly List<string> _problems = [];

    /// <summary>Tests wrap the real hand-over or starter to inject faults around them.</summary>
    internal UnlockRunner(UnlockOptions options, ActivityLog log, Func<LibvirtConnection, IDiskHandover> handover, Func<LibvirtConnection, IGuestStarter> starter)
        : this(options, log)
    {
        _handover = handover;
        _starter = starter;
    }

    /// <summary>A run with the configuration file read from <see cref="UnlockOptions.ConfigPath"/>.</summary>
    public Task<UnlockReport> RunAsync(IReadOnlyList<PresentedKey> keys, KeysReport keysReport, CancellationToken cancellationToken) =>
        RunAsync(null, keys, keysReport, cancellationToken);

    /// <summary>A run; <paramref name="config"/> is the configuration as the caller already read and
    /// checked it (the engine: the file is read once per run), or null to read it now.</summary>
    public async Task<UnlockReport> RunAsync(InventoryConfig? config, IReadOnlyList<PresentedKey> keys, KeysReport keysReport, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var clock = Stopwatch.StartNew();
        using var connection = LibvirtConnection.Open(options.ConnectUri);
        var inventory = config is null
            ? LiveInventory.Load(connection, options.ConfigPath, options.VmNames, log)
            : LiveInventory.Load(connection, config, options.VmNames, log);

        // Keys an interrupted run (kill -9, lost connection) left in libvirt secrets go before any
        // key is tried; this run holds the run lock, so no other run is using them.
        _ = LeftoverSecrets.Sweep(connection, log, options.DryRun);

        var stateStore = new UnlockStateStore(options.StatePath);
        var loaded = stateStore.Load();
        if (loaded.Warning is not null)
        {
            log.Warning(loaded.Warning);
        }

        var state = loaded.State;
        var unlockedKeys = keys.Count(k => !k.Secret.IsMemoryLocked);
        if (unlockedKeys > 0)
        {
            log.Warning($"{unlockedKeys} key(s) held in memory the kernel would not lock (RLIMIT_MEMLOCK, no CAP_IPC_LOCK): they work, but may reach swap; luksvirt doctor shows the limit and the fix");
        }

        log.Info($"unlock: {inventory.Guests.Count} guest(s) in scope, {keys.Count} key(s) presented{(options.DryRun ? ", dry run" : "")}");

        lock (_problems)
        {
            _problems.Clear();
        }

        var plans = new List<GuestPlan>();
        var reports = new GuestReport?[inventory.Guests.Count];
        IReadOnlyList<DiskTrialOutcome> outcomes = [];
        string? runFailure = null;
        try
        {
            try
            {
                plans.AddRange(inventory.Guests.Select(g => GuestPlan.Create(connection, g, keys, state, options.HolderRegistryPath, options.DryRun, log)));
                outcomes = await TryKeysAsync(plans, cancellationToken).ConfigureAwait(false);
                // A mark in the log between finding the keys and starting guests (the benchmarks split there).
                log.Info($"trials done: {outcomes.Count} disk(s) tried, {outcomes.Sum(o => o.Derivations)} key derivation(s), {clock.ElapsedMilliseconds} ms since the start");
                await StartGuestsAsync(connection, plans, reports, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Interrupted during the trials: nothing was handed over yet.
            }
#pragma warning disable CA1031 // The run's boundary: whatever failed, every guest gets its report.
            catch (Exception e)
#pragma warning restore CA1031
            {
                runFailure = $"the run failed: {e.GetType().Name}: {e.Message}";
                log.Error($"unlock: {runFailure}");
            }
            finally
            {
                // The volume keys of dmcrypt disks: zeroed however the run ends.
                DiskTrialOutcome.DisposeVolumeKeys(outcomes);
            }

            // Guests the run never got to: interrupted, or after a failure of the run itself.
            var unreached = runFailure is null ? InterruptedBeforeStart : "not started: " + runFailure;
            var final = reports
                .Select((report, i) => report ?? (i < plans.Count ? plans[i].Abandon(unreached) : GuestPlan.Unreached(inventory.Guests[i], unreached)))
                .ToArray();
            var report = Report(inventory, plans, final, keysReport, runFailure, cancellationToken.IsCancellationRequested, clock);
            if (!options.DryRun)
            {
                var run = new UnlockRunRecord(DateTimeOffset.UtcNow, report.AllGuestsRunning, report.Totals.GuestsRunning, report.Totals.GuestsInScope);
                SaveState(stateStore, state.WithLastRun(run), plans, final);
            }

            return report;
        }
        finally
        {
            foreach (var plan in plans)
            {
                plan.Dispose();
            }
        }
    }

    /// <summary>Every key trial of every disk that needs one. Then the refusals that depend on
    /// the key that opened a disk, or that a dry run deferred until its keys were tried: the
    /// dry run predicts the real run.</summary>
    private async Task<IReadOnlyList<DiskTrialOutcome>> TryKeysAsync(List<GuestPlan> plans, CancellationToken cancellationToken)
    {
        var trialTargets = plans.SelectMany(p => p.DisksNeedingKeys).ToList();
        if (trialTargets.Count == 0)
        {
            return [];
        }

        var runner = new KeyTrialRunner(options.MaxParallelTrials, KeyTrialRunner.DefaultMemoryBudgetKiB(), log.Info);
        // The caller zeroes the volume keys dmcrypt trials kept when the run ends, however it ends.
        var outcomes = await runner.RunAsync([.. trialTargets.Select(d => d.Trials)], cancellationToken).ConfigureAwait(false);
        var diskOf = trialTargets.ToDictionary<DiskPlan, DiskTrials>(d => d.Trials, ReferenceEqualityComparer.Instance);
        foreach (var outcome in outcomes)
        {
            var disk = diskOf[outcome.Disk];
            disk.Outcome = outcome;
            var refusal = disk.DeferredRefusal
                ?? (disk.Outcome.Opened is { } opener ? ActivationPreflight.ForKey(disk.Disk, opener.Key.Secret) : null);
            if (refusal is not null)
            {
                disk.Final = DiskOutcome.Refused;
                disk.Message = disk.Outcome.Opened is null && disk.DeferredRefusal is not null
                    ? refusal + "; besides, no presented key opens it"
                    : refusal;
            }
        }

        return outcomes;
    }

    private async Task StartGuestsAsync(LibvirtConnection connection, List<GuestPlan> plans, GuestReport?[] reports, CancellationToken cancellationToken)
    {
        var handover = _handover(connection);
        var starter = _starter(connection);
        // No token here: an interruption must not abandon guests mid-start; each guest looks at
        // the token itself, at the points where stopping leaves nothing half-done.
        var startOptions = new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentStarts };
        foreach (var group in StartGroups(plans))
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            // virDomainCreate blocks until QEMU runs: each guest of the group on a pool thread.
            await Parallel.ForEachAsync(group, startOptions, async (i, _) =>
                reports[i] = await FinishGuestAsync(plans[i], handover, starter, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        }
    }

    private async Task<GuestReport> FinishGuestAsync(GuestPlan plan, IDiskHandover handover, IGuestStarter starter, CancellationToken cancellationToken)
    {
        var guest = plan.Guest;
        if (plan.Domain is null)
        {
            return plan.Report(GuestOutcome.Failed, plan.StateBefore, plan.Problem);
        }

        if (plan.IsRunning)
        {
            return KeepRunning(plan, handover);
        }

        var missing = plan.Disks.Where(d => !d.CanBeOpened).ToList();
        if (missing.Count > 0)
        {
            var why = string.Join("; ", missing.Select(d => $"{d.Disk.ContainerPath}: {d.Message ?? "no presented key opens it"}"));
            log.Warning($"{guest.Name}: not started, not every disk can be opened ({why})");
            foreach (var disk in plan.Disks.Where(d => d.CanBeOpened && d.OpenedByThisRun))
            {
                disk.Final = DiskOutcome.LeftClosed;
                disk.Message = "a key opens it, but it stays closed because the guest cannot start";
            }

            return plan.Report(GuestOutcome.NotStarted, plan.StateBefore, "not every disk can be opened: " + why);
        }

        if (options.DryRun)
        {
            foreach (var disk in plan.Disks.Where(d => d.RelinkNeeded))
            {
                disk.Message = $"open; its link {disk.Disk.LinkPath} is missing or points elsewhere and would be re-created";
            }

            log.Info($"{guest.Name}: dry run, every disk opens; would start");
            return plan.Report(GuestOutcome.WouldStart, plan.StateBefore);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return plan.Abandon(InterruptedBeforeStart);
        }

        var activated = new List<DiskPlan>();
        string? failure;
        var interrupted = false;
        try
        {
            HandOver(plan, handover, activated);
            if (cancellationToken.IsCancellationRequested)
            {
                interrupted = true;
                failure = InterruptedBeforeStart;
            }
            else
            {
                failure = await starter.StartAsync(plan.Domain, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            interrupted = true;
            failure = "interrupted (SIGTERM or SIGINT) while starting";
        }
#pragma warning disable CA1031 // Any failure of one guest: its rollback below, its report, and the others go on.
        catch (Exception e)
#pragma warning restore CA1031
        {
            failure = e.Message;
        }

        // Whatever went wrong, the domain itself says whether the start went through (a timeout
        // or a signal after virDomainCreate succeeded): a running guest keeps its disks.
        var stateAfter = StateOf(plan.Domain);
        if (failure is not null && !GuestPlan.IsUp(stateAfter))
        {
            log.Write(interrupted ? LogLevel.Warning : LogLevel.Error, $"{guest.Name}: not started: {failure}");
            RollBack(plan, activated, handover);
            return plan.Report(interrupted ? GuestOutcome.NotStarted : GuestOutcome.Failed, stateAfter?.ToString() ?? "unknown", failure);
        }

        if (failure is not null)
        {
            log.Warning($"{guest.Name}: {failure}, but the guest runs (state {stateAfter}): reported as started, nothing rolled back");
        }

        // QEMU now holds the keys of native disks; nothing of them stays in libvirt.
        foreach (var disk in activated.Where(d => d.Disk.Backend == DiskBackend.Native))
        {
            RemoveSecret(plan, disk, handover);
        }

        log.Notice($"{guest.Name}: running");
        return plan.Report(GuestOutcome.Started, stateAfter?.ToString() ?? "unknown", failure is null ? null : $"started ({failure})");
    }

    /// <summary>A guest that already runs: nothing to start; a dmcrypt link that went missing is
    /// re-created, and every disk that does not add up is a problem of the run.</summary>
    private GuestReport KeepRunning(GuestPlan plan, IDiskHandover handover)
    {
        foreach (var disk in plan.Disks.Where(d => d.RelinkNeeded))
        {
            if (options.DryRun)
            {
                disk.Message = $"its link {disk.Disk.LinkPath} is missing or points elsewhere and would be re-created";
                continue;
            }

            try
            {
                lock (_deviceGate)
                {
                    handover.Relink(disk, guestRuns: true);
                }

                disk.Message = $"its link {disk.Disk.LinkPath} was missing or pointed elsewhere: re-created";
                log.Notice($"{plan.Guest.Name}: {disk.Disk.LinkPath} re-created, pointing at {DmCryptActivator.DevicePath(disk.Disk)}");
            }
#pragma warning disable CA1031 // One link that cannot be repaired is that disk's problem.
            catch (Exception e)
#pragma warning restore CA1031
            {
                disk.Final = DiskOutcome.Failed;
                disk.Message = $"its link {disk.Disk.LinkPath} is missing and could not be re-created: {e.Message}";
            }
        }

        foreach (var disk in plan.Disks.Where(d => d.Final == DiskOutcome.Failed))
        {
            AddProblem($"{plan.Guest.Name}: {disk.Disk.ContainerPath}: {disk.Message}");
        }

        log.Info($"{plan.Guest.Name}: already {plan.StateBefore}, nothing to do");
        return plan.Report(GuestOutcome.AlreadyRunning, plan.StateBefore);
    }

    /// <summary>Hands every disk this run opened to the guest, and re-links mappings left open.
    /// A disk goes into <paramref name="activated"/> as soon as it is handed over, so that a
    /// failure of the next one rolls it back.</summary>
    private void HandOver(GuestPlan plan, IDiskHandover handover, List<DiskPlan> activated)
    {
        lock (_deviceGate)
        {
            foreach (var disk in plan.Disks)
            {
                if (disk.OpenedByThisRun)
                {
                    try
                    {
                        handover.HandOver(disk);
                    }
                    catch (Exception e)
                    {
                        disk.Final = DiskOutcome.Failed;
                        disk.Message = e.Message;
                        throw;
                    }

                    disk.HandedOver = true;
                    activated.Add(disk);
                    log.Info(disk.Disk.Backend == DiskBackend.Native
                        ? $"{disk.Disk.ContainerPath}: key handed to libvirt secret {disk.Disk.SecretUuid} (ephemeral, private)"
                        : $"{disk.Disk.ContainerPath}: opened as {DmCryptActivator.DevicePath(disk.Disk)}, linked at {disk.Disk.LinkPath}");
                }
                else if (disk.RelinkNeeded)
                {
                    handover.Relink(disk, guestRuns: false);
                    disk.Message = $"already open; its link {disk.Disk.LinkPath} was missing or pointed elsewhere: re-created";
                    log.Info($"{disk.Disk.ContainerPath}: {DmCryptActivator.DevicePath(disk.Disk)} already open; link {disk.Disk.LinkPath} re-created");
                }
            }
        }
    }

    /// <summary>After the start: a secret that cannot be removed keeps the key in libvirtd. That
    /// is a problem of the run (exit 1), not a reason to stop: the guest runs, the others go on.</summary>
    private void RemoveSecret(GuestPlan plan, DiskPlan disk, IDiskHandover handover)
    {
        try
        {
            handover.RemoveSecret(disk);
        }
#pragma warning disable CA1031 // Reported and the run goes on: later start groups must still start.
        catch (Exception e)
#pragma warning restore CA1031
        {
            var uuid = disk.Disk.SecretUuid;
            disk.Final = DiskOutcome.Failed;
            disk.Message = $"the guest runs, but its key stays in libvirt secret {uuid}: removing it failed ({e.Message}); remove it with 'virsh secret-undefine {uuid}'";
            log.Error($"{plan.Guest.Name}: {disk.Disk.ContainerPath}: {disk.Message}");
            AddProblem($"{plan.Guest.Name}: {disk.Disk.ContainerPath}: {disk.Message}");
        }
    }

    /// <summary>Undoes this run's hand-overs for a guest that did not start (asked of the
    /// domain before): secrets removed, mappings closed. One failing disk does not keep the
    /// others from being rolled back; it is reported.</summary>
    private void RollBack(GuestPlan plan, List<DiskPlan> activated, IDiskHandover handover)
    {
        lock (_deviceGate)
        {
            foreach (var disk in activated)
            {
                try
                {
                    handover.Withdraw(disk);
                    disk.Final = DiskOutcome.ClosedAgain;
                }
#pragma warning disable CA1031 // Each disk on its own; the failure is reported.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    log.Error($"{plan.Guest.Name}: rollback of {disk.Disk.ContainerPath} failed: {e.Message}");
                    disk.Final = DiskOutcome.Failed;
                    disk.Message = "rollback failed: " + e.Message;
                    AddProblem($"{plan.Guest.Name}: {disk.Disk.ContainerPath}: rollback failed: {e.Message}");
                }
            }
        }
    }

    private static DomainState? StateOf(LibvirtDomain domain)
    {
        try
        {
            return domain.State;
        }
        catch (LibvirtException)
        {
            return null;
        }
    }

    private void AddProblem(string problem)
    {
        lock (_problems)
        {
            _problems.Add(problem);
        }
    }

    /// <summary>Indexes of the plans, grouped by start order: the plans come sorted by
    /// <see cref="Inventory.Guest.Order"/> (unordered last), and a group starts only when the one
    /// before it has finished, so "lower order starts first" holds; guests of one group (the
    /// same order, or all unordered ones) start side by side.</summary>
    private static IEnumerable<List<int>> StartGroups(List<GuestPlan> plans)
    {
        var group = new List<int>();
        for (var i = 0; i < plans.Count; i++)
        {
            if (group.Count > 0 && plans[group[0]].Guest.Order != plans[i].Guest.Order)
            {
                yield return group;
                group = [];
            }

            group.Add(i);
        }

        if (group.Count > 0)
        {
            yield return group;
        }
    }

    /// <summary>Records who opened each disk of the started guests. A state file that cannot be
    /// written costs the next run only its hints: a warning, never the guests' outcome.</summary>
    private void SaveState(UnlockStateStore stateStore, UnlockState state, List<GuestPlan> plans, GuestReport[] reports)
    {
        for (var i = 0; i < plans.Count; i++)
        {
            state = RecordOpeners(plans[i], reports[i], state);
        }

        try
        {
            stateStore.Save(state);
        }
#pragma warning disable CA1031 // The guests' outcome stands; the state file is only a hint for the next run.
        catch (Exception e)
#pragma warning restore CA1031
        {
            log.Warning($"cannot save the state file {stateStore.FilePath} ({e.Message}); the next run tries keys without knowing who opened each disk");
        }
    }

    private static UnlockState RecordOpeners(GuestPlan plan, GuestReport report, UnlockState state)
    {
        if (report.Outcome != GuestOutcome.Started)
        {
            return state;
        }

        foreach (var disk in plan.Disks.Where(d => d.HandedOver))
        {
            var opener = disk.Outcome!.Opened!;
            state = state.With(new DiskUnlockRecord(disk.Disk.ContainerPath, disk.Uuid, opener.Key.Holder, opener.Slot, DateTimeOffset.UtcNow));
        }

        return state;
    }

    private UnlockReport Report(LiveInventory inventory, List<GuestPlan> plans, GuestReport[] reports, KeysReport keysReport, string? runFailure, bool interrupted, Stopwatch clock)
    {
        var derivations = plans.SelectMany(p => p.Disks).Sum(d => d.Outcome?.Derivations ?? 0);
        var running = reports.Count(r => r.Outcome is GuestOutcome.Started or GuestOutcome.AlreadyRunning);
        var problems = inventory.Problems.ToList();
        lock (_problems)
        {
            problems.AddRange(_problems);
        }

        if (runFailure is not null)
        {
            problems.Add(runFailure);
        }

        if (interrupted)
        {
            var off = reports.Count(r => r.Outcome is GuestOutcome.NotStarted && r.Message?.StartsWith("interrupted", StringComparison.Ordinal) == true);
            log.Warning($"unlock interrupted: {off} guest(s) not started stay off; {running} guest(s) running");
        }

        log.Info($"unlock done: {running}/{reports.Length} guest(s) running, {derivations} key derivation(s), {clock.ElapsedMilliseconds} ms");
        return new UnlockReport(options.DryRun, reports, keysReport, new UnlockTotals(derivations, clock.ElapsedMilliseconds, running, reports.Length), problems, interrupted);
    }
}
