using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Unlock;

/// <summary>What one key derivation on a slot takes: threads (argon2 runs several) and memory.</summary>
internal readonly record struct TrialCost(int Threads, long MemoryKiB)
{
    public static readonly TrialCost Pbkdf2 = new(1, 0);
}

/// <summary>The trials planned for one container, and the cost of a trial on each of its slots.
/// <see cref="KeepVolumeKey"/>: the opening trial hands over the volume key it unlocked (a
/// dmcrypt disk is then activated with it, without deriving the slot's key a second time).
/// <see cref="Header"/>: the container's header as the plan loaded it, used by every trial of the
/// disk (they run one after another, never two at once); null: each trial loads it.</summary>
internal sealed record DiskTrials(string ContainerPath, IReadOnlyList<KeyTrial> Trials, IReadOnlyDictionary<int, TrialCost>? SlotCosts = null, bool KeepVolumeKey = false, CryptDevice? Header = null)
{
    public TrialCost CostOf(KeyTrial trial) => SlotCosts?.GetValueOrDefault(trial.Slot, TrialCost.Pbkdf2) ?? TrialCost.Pbkdf2;
}

/// <summary>What the trials of <paramref name="Disk"/> found: the trial that opened it (null when
/// none did), how many key derivations were spent, the last error other than a wrong key, and the
/// volume key when <see cref="DiskTrials.KeepVolumeKey"/> asked for it (the caller disposes it;
/// <see cref="DisposeVolumeKeys"/>).</summary>
internal sealed record DiskTrialOutcome(DiskTrials Disk, KeyTrial? Opened, int Derivations, string? Error, SecretBuffer? VolumeKey = null)
{
    public string ContainerPath => Disk.ContainerPath;

    public static void DisposeVolumeKeys(IEnumerable<DiskTrialOutcome?> outcomes)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        foreach (var outcome in outcomes)
        {
            outcome?.VolumeKey?.Dispose();
        }
    }
}

/// <summary>
/// Runs key trials in parallel across disks, one key derivation per trial, within a budget of
/// CPU threads and memory: a PBKDF2 trial takes one thread, an argon2 trial the threads and
/// memory its slot asks for (measured here: two argon2id trials with 2 threads each on 2 cores
/// take 1.7x as long as one, so running them side by side gains little and risks memory).
/// A disk's own trials run one after another in planned order, so a correct first guess costs
/// exactly one derivation, and a disk stops as soon as one trial opens it. libcryptsetup
/// contexts are not thread-safe: a disk's trials share its header context
/// (<see cref="DiskTrials.Header"/>) only because they never run at once; without one, every trial
/// loads its own. A trial that alone exceeds the budget still runs, alone.
/// </summary>
internal sealed class KeyTrialRunner
{
    private readonly int _maxParallel;
    private readonly long _memoryBudgetKiB;
    private readonly Action<string>? _log;

    public KeyTrialRunner(int maxParallel, long memoryBudgetKiB, Action<string>? log = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxParallel, 1);
        _maxParallel = maxParallel;
        _memoryBudgetKiB = memoryBudgetKiB;
        _log = log;
    }

    /// <summary>Half of what /proc/meminfo calls available: trials must never push the host into the OOM killer.</summary>
    public static long DefaultMemoryBudgetKiB()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)
                && long.TryParse(line["MemAvailable:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out var kib))
            {
                return kib / 2;
            }
        }

        return 512 * 1024;
    }

    public async Task<IReadOnlyList<DiskTrialOutcome>> RunAsync(IReadOnlyList<DiskTrials> disks, CancellationToken cancellationToken)
    {
        var queue = new TrialQueue(disks, _maxParallel, _memoryBudgetKiB);
        try
        {
            using (cancellationToken.Register(queue.WakeAll))
            {
                var workers = Enumerable.Range(0, Math.Min(_maxParallel, Math.Max(1, disks.Count)))
                    .Select(_ => Task.Factory.StartNew(
                        () => Work(queue, cancellationToken),
                        cancellationToken,
                        TaskCreationOptions.LongRunning, // key derivation blocks a thread in native code
                        TaskScheduler.Default))
                    .ToList();
                await Task.WhenAll(workers).ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            return queue.Outcomes();
        }
        catch
        {
            // Cancelled, or a worker failed: no caller will ever see the volume keys found so far.
            DiskTrialOutcome.DisposeVolumeKeys(queue.Outcomes());
            throw;
        }
    }

    private void Work(TrialQueue queue, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested && queue.TryTake(cancellationToken, out var disk, out var trial))
        {
            var result = TrialResult.Failed("the trial ended without a result");
            try
            {
                result = Try(disk, trial);
            }
            finally
            {
                // Always: a disk left "in flight" would keep every other worker waiting forever.
                queue.Complete(disk, trial, disk.CostOf(trial), result);
            }
        }
    }

    private TrialResult Try(DiskTrials disk, KeyTrial trial)
    {
        SecretBuffer? volumeKey = null;
        try
        {
            using var loaded = disk.Header is null ? CryptDevice.Load(disk.ContainerPath) : null;
            var device = disk.Header ?? loaded!;
            if (disk.KeepVolumeKey)
            {
                // The same one derivation as a test, but the unlocked volume key is kept.
                volumeKey = device.GetVolumeKey(trial.Key.Secret.Span, trial.Slot);
            }
            else
            {
                device.TestKey(trial.Key.Secret.Span, trial.Slot);
            }

            _log?.Invoke($"{disk.ContainerPath}: slot {trial.Slot} opened by key of holder '{trial.Key.Holder}' ({trial.Reason})");
            return TrialResult.Opened(volumeKey);
        }
        catch (WrongKeyException)
        {
            return TrialResult.WrongKey;
        }
        catch (CryptsetupException e)
        {
            // Not a key problem (header unreadable, device gone): further trials cannot help.
            return TrialResult.Failed(e.Message);
        }
#pragma warning disable CA1031 // Any other failure is this disk's error: the other disks' trials go on.
        catch (Exception e)
#pragma warning restore CA1031
        {
            volumeKey?.Dispose();
            return TrialResult.Failed($"the trial failed: {e.GetType().Name}: {e.Message}");
        }
    }

    private sealed record TrialResult(bool IsOpened, string? Error, SecretBuffer? VolumeKey = null)
    {
        public static readonly TrialResult WrongKey = new(false, null);

        public static TrialResult Opened(SecretBuffer? volumeKey) => new(true, null, volumeKey);

        public static TrialResult Failed(string error) => new(false, error);
    }

    /// <summary>Which trial runs next: the disk with the fewest trials so far that has none in
    /// flight, so every disk gets its (likely right) first trial early, as far as the thread and
    /// memory budget allow.</summary>
    private sealed class TrialQueue(IReadOnlyList<DiskTrials> disks, int threadBudget, long memoryBudgetKiB)
    {
        private readonly object _gate = new();
        private readonly List<DiskState> _disks = disks.Select(d => new DiskState(d)).ToList();
        private int _threadsInUse;
        private long _memoryInUseKiB;

        private bool Fits(TrialCost cost) =>
            _threadsInUse == 0
            || (_threadsInUse + cost.Threads <= threadBudget && _memoryInUseKiB + cost.MemoryKiB <= memoryBudgetKiB);

        public bool TryTake(CancellationToken cancellationToken, out DiskTrials disk, out KeyTrial trial)
        {
            lock (_gate)
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    var next = _disks
                        .Where(d => d.CanStartTrial && Fits(d.Disk.CostOf(d.Disk.Trials[d.Started])))
                        .OrderBy(d => d.Started)
                        .FirstOrDefault();
                    if (next is not null)
                    {
                        disk = next.Disk;
                        trial = next.Disk.Trials[next.Started++];
                        next.InFlight = true;
                        var cost = disk.CostOf(trial);
                        _threadsInUse += cost.Threads;
                        _memoryInUseKiB += cost.MemoryKiB;
                        return true;
                    }

                    if (!_disks.Any(d => d.InFlight))
                    {
                        break;
                    }

                    // Another worker's trial may end a disk or free it for its next trial.
                    Monitor.Wait(_gate);
                }

                disk = null!;
                trial = null!;
                return false;
            }
        }

        public void WakeAll()
        {
            lock (_gate)
            {
                Monitor.PulseAll(_gate);
            }
        }

        public void Complete(DiskTrials disk, KeyTrial trial, TrialCost cost, TrialResult result)
        {
            lock (_gate)
            {
                _threadsInUse -= cost.Threads;
                _memoryInUseKiB -= cost.MemoryKiB;
                var state = _disks.First(d => d.Disk == disk);
                state.InFlight = false;
                state.Derivations++;
                if (result.IsOpened)
                {
                    state.Opened = trial;
                    state.VolumeKey = result.VolumeKey;
                }
                else if (result.Error is not null)
                {
                    state.Error = result.Error;
                    state.Abandoned = true;
                }

                Monitor.PulseAll(_gate);
            }
        }

        public List<DiskTrialOutcome> Outcomes()
        {
            lock (_gate)
            {
                return _disks.Select(d => new DiskTrialOutcome(d.Disk, d.Opened, d.Derivations, d.Error, d.VolumeKey)).ToList();
            }
        }

        private sealed class DiskState(DiskTrials disk)
        {
            public DiskTrials Disk { get; } = disk;
            public int Started { get; set; }
            public int Derivations { get; set; }
            public bool InFlight { get; set; }
            public bool Abandoned { get; set; }
            public KeyTrial? Opened { get; set; }
            public SecretBuffer? VolumeKey { get; set; }
            public string? Error { get; set; }

            public bool CanStartTrial => !InFlight && Opened is null && !Abandoned && Started < Disk.Trials.Count;
        }
    }
}
