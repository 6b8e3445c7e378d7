using System.Diagnostics;
using LuksVirt.Core.Activation;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Logging;
using LuksVirt.Core.State;
using LuksVirt.Cryptsetup;
using LuksVirt.Libvirt;

namespace LuksVirt.Core.Unlock;

/// <summary>
/// The main job: for every guest in scope that is not running, find which presented key opens
/// each of its disks (trials first, nothing activated yet), then only for guests whose disks
/// ALL open: hand the disks over (secret or mapping), start the guest, wait until it runs, and
/// remove what is no longer needed. A guest that cannot start is rolled back; the others go on.
/// </summary>
public sealed class UnlockRunner(UnlockOptions options, ActivityLog log)
{
    /// <summary>Guests of one start group starting at once, at most (QEMU start-up is mostly
    /// waiting: page faults, file opens, QMP; more at once only adds load on a busy host).</summary>
    private const int MaxConcurrentStarts = 4;

    /// <summary>libcryptsetup and libdevmapper calls of concurrently starting guests go one at a time.</summary>
    private readonly System.Threading.Lock _deviceGate = new();

    public async Task<UnlockReport> RunAsync(KeySet keys, KeysReport keysReport, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var clock = Stopwatch.StartNew();
        using var connection = LibvirtConnection.Open(options.ConnectUri);
        var inventory = LiveInventory.Load(connection, options.ConfigPath, options.VmNames, log);
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

        var plans = inventory.Guests.Select(g => GuestPlan.Create(connection, g, keys, state, options.HolderRegistryPath, log)).ToList();
        var trialTargets = plans.SelectMany(p => p.DisksNeedingKeys).ToList();
        var runner = new KeyTrialRunner(options.MaxParallelTrials, KeyTrialRunner.DefaultMemoryBudgetKiB(), log.Info);
        // dmcrypt disks keep the volume key their trial unlocked: activation then costs no
        // second key derivation. The keys are zeroed when the run ends, however it ends.
        var outcomes = trialTargets.Count == 0
            ? []
            : await runner.RunAsync(trialTargets.Select(d => d.Trials with { KeepVolumeKey = !options.DryRun && d.Disk.Backend == DiskBackend.DmCrypt }).ToList(), cancellationToken).ConfigureAwait(false);
        try
        {
            for (var i = 0; i < trialTargets.Count; i++)
            {
                trialTargets[i].Outcome = outcomes[i];
            }

            // A mark in the log between finding the keys and starting guests (the benchmarks split there).
            log.Info($"trials done: {trialTargets.Count} disk(s) tried, {outcomes.Sum(o => o.Derivations)} key derivation(s), {clock.ElapsedMilliseconds} ms since the start");
            var starter = new GuestStarter(connection, options.StartTimeout);
            var native = new NativeSecretActivator(connection);
            var dmcrypt = new DmCryptActivator(HypervisorAccount.FromQemuConf());
            var reports = new GuestReport[plans.Count];
            var startOptions = new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentStarts, CancellationToken = cancellationToken };
            foreach (var group in StartGroups(plans))
            {
                // virDomainCreate blocks until QEMU runs: each guest of the group on a pool thread.
                await Parallel.ForEachAsync(group, startOptions, async (i, token) =>
                    reports[i] = await FinishGuestAsync(plans[i], starter, native, dmcrypt, token).ConfigureAwait(false)).ConfigureAwait(false);
            }

            if (!options.DryRun)
            {
                for (var i = 0; i < plans.Count; i++)
                {
                    state = RecordOpeners(plans[i], reports[i], state);
                }

                stateStore.Save(state);
            }

            var derivations = trialTargets.Sum(d => d.Outcome?.Derivations ?? 0);
            var running = reports.Count(r => r.Outcome is GuestOutcome.Started or GuestOutcome.AlreadyRunning);
            log.Info($"unlock done: {running}/{reports.Length} guest(s) running, {derivations} key derivation(s), {clock.ElapsedMilliseconds} ms");
            return new UnlockReport(options.DryRun, reports, keysReport,
                new UnlockTotals(derivations, clock.ElapsedMilliseconds, running, reports.Length), inventory.Problems);
        }
        finally
        {
            DiskTrialOutcome.DisposeVolumeKeys(outcomes);
        }
    }

    private async Task<GuestReport> FinishGuestAsync(GuestPlan plan, GuestStarter starter, NativeSecretActivator native, DmCryptActivator dmcrypt, CancellationToken cancellationToken)
    {
        var guest = plan.Guest;
        if (plan.Domain is null)
        {
            return plan.Report(GuestOutcome.Failed, plan.StateBefore, plan.Problem);
        }

        if (plan.IsRunning)
        {
            log.Info($"{guest.Name}: already {plan.StateBefore}, nothing to do");
            return plan.Report(GuestOutcome.AlreadyRunning, plan.StateBefore);
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
            log.Info($"{guest.Name}: dry run, every disk opens; would start");
            return plan.Report(GuestOutcome.WouldStart, plan.StateBefore);
        }

        var activated = new List<DiskPlan>();
        try
        {
            lock (_deviceGate)
            {
                foreach (var disk in plan.Disks.Where(d => d.OpenedByThisRun))
                {
                    Activate(disk, native, dmcrypt);
                    activated.Add(disk);
                }
            }

            var failure = await starter.StartAsync(plan.Domain, cancellationToken).ConfigureAwait(false);
            if (failure is not null)
            {
                log.Error($"{guest.Name}: start failed: {failure}");
                RollBack(plan, activated, native, dmcrypt);
                return plan.Report(GuestOutcome.Failed, plan.Domain.State.ToString(), "start failed: " + failure);
            }
        }
        catch (Exception e) when (e is ActivationException or LibvirtException or CryptsetupException or IOException or OperationCanceledException)
        {
            log.Error($"{guest.Name}: {e.Message}");
            RollBack(plan, activated, native, dmcrypt);
            if (e is OperationCanceledException)
            {
                throw;
            }

            return plan.Report(GuestOutcome.Failed, plan.StateBefore, e.Message);
        }

        // QEMU now holds the keys of native disks; nothing of them stays in libvirt.
        foreach (var disk in activated.Where(d => d.Disk.Backend == DiskBackend.Native))
        {
            native.Remove(disk.Disk.SecretUuid!.Value);
        }

        log.Notice($"{guest.Name}: running");
        return plan.Report(GuestOutcome.Started, plan.Domain.State.ToString());
    }

    private void Activate(DiskPlan disk, NativeSecretActivator native, DmCryptActivator dmcrypt)
    {
        var opener = disk.Outcome!.Opened!;
        if (disk.Disk.Backend == DiskBackend.Native)
        {
            native.Provide(disk.Disk, opener.Key.Secret);
            log.Info($"{disk.Disk.ContainerPath}: key handed to libvirt secret {disk.Disk.SecretUuid} (ephemeral, private)");
        }
        else
        {
            var volumeKey = disk.Outcome.VolumeKey ?? throw new InvalidOperationException($"{disk.Disk.ContainerPath}: opened without its volume key");
            dmcrypt.Open(disk.Disk, volumeKey);
            log.Info($"{disk.Disk.ContainerPath}: opened as {DmCryptActivator.DevicePath(disk.Disk)}, linked at {disk.Disk.LinkPath}");
        }
    }

    /// <summary>Undo this run's activations for a guest that could not start.</summary>
    private void RollBack(GuestPlan plan, List<DiskPlan> activated, NativeSecretActivator native, DmCryptActivator dmcrypt)
    {
        lock (_deviceGate)
        {
            RollBackLocked(plan, activated, native, dmcrypt);
        }
    }

    private void RollBackLocked(GuestPlan plan, List<DiskPlan> activated, NativeSecretActivator native, DmCryptActivator dmcrypt)
    {
        foreach (var disk in activated)
        {
            try
            {
                if (disk.Disk.Backend == DiskBackend.Native)
                {
                    native.Remove(disk.Disk.SecretUuid!.Value);
                }
                else
                {
                    DmCryptActivator.Close(disk.Disk);
                }

                disk.Final = DiskOutcome.ClosedAgain;
            }
            catch (Exception e) when (e is LibvirtException or CryptsetupException or IOException)
            {
                log.Error($"{plan.Guest.Name}: rollback of {disk.Disk.ContainerPath} failed: {e.Message}");
                disk.Final = DiskOutcome.Failed;
                disk.Message = "rollback failed: " + e.Message;
            }
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

    private static UnlockState RecordOpeners(GuestPlan plan, GuestReport report, UnlockState state)
    {
        if (report.Outcome != GuestOutcome.Started)
        {
            return state;
        }

        foreach (var disk in plan.Disks.Where(d => d.OpenedByThisRun))
        {
            var opener = disk.Outcome!.Opened!;
            state = state.With(new DiskUnlockRecord(disk.Disk.ContainerPath, disk.Uuid, opener.Key.Holder, opener.Slot, DateTimeOffset.UtcNow));
        }

        return state;
    }
}
