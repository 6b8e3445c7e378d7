using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Threading.Channels;
using LuksVirt.Core.Activation;
using LuksVirt.Core.Devices;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.KeySources;
using LuksVirt.Core.KeySources.KeyDirectory;
using LuksVirt.Core.KeySources.Quorum;
using LuksVirt.Core.KeySources.Tang;
using LuksVirt.Core.KeySources.UsbStick;
using LuksVirt.Core.Lock;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Metrics;
using LuksVirt.Core.Runs;
using LuksVirt.Core.State;
using LuksVirt.Core.Unlock;
using LuksVirt.Core.Usb;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Service;

/// <summary>
/// The long-running service behind <c>luksvirt watch</c>. One task receives device changes
/// (<see cref="BlockDeviceWatcher"/>) and queues them at once, so the kernel's queue never
/// overflows during an unlock; another works through the queue one change at a time under the
/// same flock as every other run: a stick inserted during an unlock is handled right after it.
/// When idle both wait on the kernel (epoll), using no CPU.
/// </summary>
/// <remarks>
/// Besides sticks, the same queue carries the service's own work: the Tang bindings are tried
/// at start-up and again with backoff while some give no key (the network or a server not up
/// yet), until <see cref="WatchOptions.NetworkRetryFor"/> has passed; every stick's run also asks
/// them, so a guest with a Tang-bound disk and a stick-only disk starts when the stick comes.
/// Quorum shares are kept across sticks for <see cref="WatchOptions.QuorumWindow"/> and wiped
/// when it expires, on a lock and when the service stops.
/// </remarks>
internal sealed class WatchService(WatchOptions options, ActivityLog log) : IDisposable
{
    // Disks whose keys started guests, by kernel name: pulling exactly that medium locks the host
    // when LockOnRemoval is set. Touched by the worker only.
    private readonly Dictionary<string, BlockDisk> _unlockedBy = new(StringComparer.Ordinal);

    private readonly TangKeySource _tang = new(options.TangTimeout);
    private readonly QuorumShareWindow _shareWindow = new(options.QuorumWindow, TimeProvider.System);
    private readonly DateTimeOffset _networkRetryUntil = TimeProvider.System.GetUtcNow() + options.NetworkRetryFor;
    private TimeSpan _networkBackoff = options.NetworkRetryFirst;
    private bool _networkRoundQueued;
    private DateTimeOffset? _windowCheckQueuedFor;

    private ChannelWriter<WatchWork>? _queue;
    private CancellationToken _stopping;
    private MetricsFile? _metrics;
    private WatchPasswordRequest? _passwordRequest;
    private int _keyDirectoryQueued;

    /// <summary>What the worker does next: a stick came or went, files were dropped into the key
    /// directory, the Tang bindings are due, the quorum window may have expired, <c>lock</c> ran,
    /// the start-up work is done, or a passphrase was answered.</summary>
    private abstract record WatchWork;

    private sealed record DeviceWork(BlockDiskChange Change) : WatchWork;

    private sealed record NetworkRound : WatchWork;

    private sealed record ShareWindowCheck : WatchWork;

    /// <summary>Files appeared in the key directory (<c>--keys</c>).</summary>
    private sealed record KeyDirectoryWork : WatchWork;

    /// <summary><c>luksvirt lock</c> (another process) locked the host: the shares kept are wiped.</summary>
    private sealed record LockNoticed : WatchWork;

    /// <summary>The start-up work is done: with --ask-password, guests still off are asked for.</summary>
    private sealed record StartUpDone : WatchWork;

    /// <summary>A passphrase answered at a password agent, to run like a stick's keys; the run
    /// owns <paramref name="Answer"/>. <paramref name="EveryGuestRuns"/> is completed when done.</summary>
    private sealed record PassphraseWork(IKeyPresentation Answer, TaskCompletionSource<bool> EveryGuestRuns) : WatchWork;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        BlockDeviceWatcher watcher;
        IReadOnlyList<BlockDiskChange> initial;
        try
        {
            watcher = BlockDeviceWatcher.Open(options.Filter);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SocketException)
        {
            log.Error($"cannot listen to kernel device events: {e.Message}");
            return ExitCodes.Failure;
        }

        using (watcher)
        {
            try
            {
                initial = watcher.Rescan();
            }
            catch (IOException e)
            {
                log.Error(e.Message);
                return ExitCodes.Failure;
            }

            // Several writers: the device task and the timers of retries and the quorum window.
            var queue = Channel.CreateUnbounded<WatchWork>(new UnboundedChannelOptions { SingleReader = true });
            _queue = queue.Writer;
            _stopping = cancellationToken;
            _networkRoundQueued = queue.Writer.TryWrite(new NetworkRound());
            Enqueue(queue.Writer, initial);
            using var keyFiles = WatchKeyDirectory(queue.Writer);
            _ = queue.Writer.TryWrite(new StartUpDone());
            using var lockNotices = WatchLockNotices(queue.Writer);
            log.Notice(string.Create(CultureInfo.InvariantCulture,
                $"watching for key sticks ({options.Filter}){(options.LockOnRemoval ? ", locking when the unlocking stick is removed" : "")}; {initial.Count} present at start"));
            NotifySystemd("READY=1\nSTATUS=watching for key sticks");

            using var metrics = _metrics = WatchMetrics.Open(options, log);
            var metricsLoop = metrics?.RunAsync(options.MetricsInterval, cancellationToken) ?? Task.CompletedTask;
            var worker = WorkAsync(queue.Reader, cancellationToken);
            var exitCode = ExitCodes.Success;
            try
            {
                while (true)
                {
                    Enqueue(queue.Writer, await watcher.NextChangesAsync(cancellationToken).ConfigureAwait(false));
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                log.Notice("watch stopping");
                NotifySystemd("STOPPING=1");
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                log.Error($"kernel device events failed: {e.Message}; exiting so that the service manager restarts the watch");
                exitCode = ExitCodes.Failure;
            }

            queue.Writer.TryComplete();
            await worker.ConfigureAwait(false);
            await (_passwordRequest?.StoppedAsync() ?? Task.CompletedTask).ConfigureAwait(false);
            DisposeUnrunAnswers(queue.Reader);
            await metricsLoop.ConfigureAwait(false);
            WipeShares("watch stopping");
            return exitCode;
        }
    }

    private void Enqueue(ChannelWriter<WatchWork> queue, IReadOnlyList<BlockDiskChange> changes)
    {
        foreach (var change in changes)
        {
            var disk = change.Disk;
            log.Info(change.Kind == BlockDiskChangeKind.Appeared
                ? string.Create(CultureInfo.InvariantCulture, $"{disk.Name}: medium appeared ({disk.DeviceNode}, {disk.SizeBytes} bytes, diskseq {disk.DiskSeq?.ToString(CultureInfo.InvariantCulture) ?? "-"})")
                : $"{disk.Name}: medium removed");
            _ = queue.TryWrite(new DeviceWork(change));   // unbounded: always accepted
        }
    }

    private async Task WorkAsync(ChannelReader<WatchWork> queue, CancellationToken cancellationToken)
    {
        try
        {
            await SweepLeftoverSecretsAsync(cancellationToken).ConfigureAwait(false);
            await foreach (var work in queue.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await DoAsync(work, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // A service must outlive one bad stick or one failed run; the next stick may work.
                    log.Error($"{Subject(work)}: {e.GetType().Name}: {e.Message}");
                }
                finally
                {
                    _metrics?.RequestRefresh();

                    // Between sticks the service idles for hours: hand the run's memory back.
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private Task DoAsync(WatchWork work, CancellationToken cancellationToken) => work switch
    {
        DeviceWork { Change: { Kind: BlockDiskChangeKind.Appeared } change } => UnlockFromAsync(change.Disk, cancellationToken),
        DeviceWork { Change: var change } => LockIfUnlockedByAsync(change.Disk, cancellationToken),
        NetworkRound => RunNetworkRoundAsync(cancellationToken),
        ShareWindowCheck => ExpireShareWindow(),
        StartUpDone => AskPasswordIfWanted(cancellationToken),
        LockNoticed => WipeSharesAfterLock(),
        KeyDirectoryWork => UnlockFromKeyDirectoryAsync(options.KeyDirectory!, cancellationToken),
        PassphraseWork passphrase => RunPassphraseAsync(passphrase, cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(work)),
    };

    private static string Subject(WatchWork work) => work switch
    {
        DeviceWork device => device.Change.Disk.Name,
        NetworkRound => "Tang",
        PassphraseWork or StartUpDone => "password agent",
        LockNoticed => "lock",
        KeyDirectoryWork => "key directory",
        _ => "quorum window",
    };

    /// <summary>The Tang bindings of the containers in scope, without a stick: at start-up and
    /// while some give no key, again after a growing pause.</summary>
    private async Task RunNetworkRoundAsync(CancellationToken cancellationToken)
    {
        _networkRoundQueued = false;
        using var runLock = AcquireRunLock("Tang bindings", cancellationToken);
        var outcome = await new UnlockEngine(options.Unlock, log).RunLockedAsync([_tang], _shareWindow, cancellationToken).ConfigureAwait(false);
        if (_tang.LastRound is { Bindings: 0 })
        {
            log.Info("Tang: no clevis binding on the containers of guests still off");
        }
        else if (outcome.Report is { } report)
        {
            // Which binding gave no key and why (the server, its answer): never key material.
            foreach (var rejected in report.Keys.Rejected)
            {
                log.Warning($"Tang: {rejected.Name}: {rejected.Reason}");
            }

            LogFinished("Tang", outcome, report);
        }

        AfterRun(outcome);
    }

    /// <summary>With <c>--keys</c>: key files dropped into the directory (by an administrator over
    /// SSH, a holder's share) are read like a stick's, the ones there at start-up first. Events
    /// are gathered for a moment, so that a file still being written is read whole.</summary>
    private FileSystemWatcher? WatchKeyDirectory(ChannelWriter<WatchWork> queue)
    {
        if (options.KeyDirectory is not { } directory)
        {
            return null;
        }

        var watcher = WatchDirectory(directory, _ =>
        {
            if (Interlocked.Exchange(ref _keyDirectoryQueued, 1) == 0)
            {
                Schedule(new KeyDirectoryWork(), KeyDirectorySettle);
            }
        });
        _keyDirectoryQueued = 1;
        _ = queue.TryWrite(new KeyDirectoryWork());
        log.Info($"watching the key directory {directory} for key files");
        return watcher;
    }

    /// <summary>How long the key directory must stay quiet before it is read.</summary>
    private static readonly TimeSpan KeyDirectorySettle = TimeSpan.FromMilliseconds(500);

    private async Task UnlockFromKeyDirectoryAsync(string directory, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _keyDirectoryQueued, 0);
        using var runLock = AcquireRunLock($"key directory {directory}", cancellationToken);
        var clock = Stopwatch.StartNew();
        IKeyPresentation keys;
        try
        {
            keys = KeyDirectorySource.ReadNow(directory);
        }
        catch (IOException e)
        {
            log.Warning($"key directory {directory}: cannot be read, no key used: {e.Message}");
            return;
        }

        using var source = new PresentedSource($"key directory {directory}", keys);
        if (keys.Report is { Presented: 0, Rejected.Count: 0 })
        {
            return;   // our own deletions, or files that are not key files
        }

        var subject = $"key directory {directory}";
        LogRead(subject, keys.Report, keys.Report.Ignored.Count, clock);
        await RunPresentedAsync(subject, source, keys.Report, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Watches for <c>luksvirt lock</c>'s notice beside the state file; null (and a
    /// warning) when its directory cannot be watched.</summary>
    private FileSystemWatcher? WatchLockNotices(ChannelWriter<WatchWork> queue)
    {
        var directory = Path.GetDirectoryName(LockNotice.PathBeside(options.Unlock.StatePath))!;
        try
        {
            // The state file's directory, made as the state store makes it: root's alone.
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return WatchDirectory(directory, name =>
            {
                if (name == LockNotice.FileName)
                {
                    _ = queue.TryWrite(new LockNoticed());
                }
            });
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            log.Warning($"cannot watch for luksvirt lock ({e.Message}): quorum shares kept are wiped when the window expires or the service stops, not on a lock");
            return null;
        }
    }

    /// <summary>Calls <paramref name="changed"/> with the name of each file created, written or
    /// renamed into <paramref name="directory"/> (inotify; on a thread of the runtime's own):
    /// files are renamed into place atomically, or created and written by hand.</summary>
    private static FileSystemWatcher WatchDirectory(string directory, Action<string?> changed)
    {
        var watcher = new FileSystemWatcher(directory) { NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size };
        watcher.Created += (_, e) => changed(e.Name);
        watcher.Changed += (_, e) => changed(e.Name);
        watcher.Renamed += (_, e) => changed(e.Name);
        watcher.EnableRaisingEvents = true;
        return watcher;
    }

    private Task WipeSharesAfterLock()
    {
        WipeShares("luksvirt lock ran", "; the next holder's stick starts a fresh count");
        return Task.CompletedTask;
    }

    /// <summary>Wipes the quorum shares kept, saying so ("WHY: N quorum share(s) wiped") when
    /// there were any, and tells <c>status</c>.</summary>
    private void WipeShares(string why, string after = "")
    {
        if (_shareWindow.Wipe() is > 0 and var wiped)
        {
            log.Notice(string.Create(CultureInfo.InvariantCulture, $"{why}: {wiped} quorum share(s) wiped{after}"));
        }

        PublishQuorumWaiting();
    }

    private Task ExpireShareWindow()
    {
        _windowCheckQueuedFor = null;
        if (_shareWindow.ExpireIfDue() is > 0 and var wiped)
        {
            log.Notice(string.Create(CultureInfo.InvariantCulture,
                $"quorum window of {options.QuorumWindow.TotalMinutes:0.#} min expired: {wiped} share(s) wiped; the next holder's stick starts a fresh count"));
        }

        PublishQuorumWaiting();
        ScheduleShareWindowCheck();
        return Task.CompletedTask;
    }

    /// <summary>After every run: the quorum window's news, the next Tang round when bindings
    /// still gave no key, and no passphrase request once every guest runs.</summary>
    private void AfterRun(UnlockOutcome outcome)
    {
        if (outcome.Report is { } report && EveryGuestRuns(report))
        {
            _passwordRequest?.Withdraw();
        }

        _shareWindow.AfterRun();
        foreach (var waiting in _shareWindow.Waiting())
        {
            log.Notice($"quorum not met: {waiting}");
        }

        PublishQuorumWaiting();

        ScheduleShareWindowCheck();
        ScheduleNetworkRound();
    }

    /// <summary>No guest in scope is off after the run, however it ended.</summary>
    private static bool EveryGuestRuns(UnlockReport report) => report.Totals.GuestsRunning >= report.Totals.GuestsInScope;

    /// <summary>For <c>luksvirt status</c>: who is present and awaited (never a share).</summary>
    private void PublishQuorumWaiting()
    {
        try
        {
            QuorumWaitingFile.Write(QuorumWaitingFile.PathBeside(options.Unlock.StatePath), _shareWindow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning($"cannot tell luksvirt status about the quorums waited for: {e.Message}");
        }
    }

    private void ScheduleShareWindowCheck()
    {
        if (_shareWindow.ExpiresAt is { } expiresAt && _windowCheckQueuedFor != expiresAt)
        {
            _windowCheckQueuedFor = expiresAt;
            Schedule(new ShareWindowCheck(), expiresAt - TimeProvider.System.GetUtcNow());
        }
    }

    private void ScheduleNetworkRound()
    {
        if (_networkRoundQueued || _tang.LastRound is not { Unrecovered: > 0 } round)
        {
            return;
        }

        if (TimeProvider.System.GetUtcNow() + _networkBackoff > _networkRetryUntil)
        {
            log.Warning(string.Create(CultureInfo.InvariantCulture,
                $"Tang: {round.Unrecovered} of {round.Bindings} binding(s) still give no key; no more retries after {options.NetworkRetryFor.TotalMinutes:0.#} min (a stick, a key file with luksvirt unlock, or restarting the service tries again)"));
            return;
        }

        log.Info(string.Create(CultureInfo.InvariantCulture,
            $"Tang: {round.Unrecovered} of {round.Bindings} binding(s) gave no key; trying again in {_networkBackoff.TotalSeconds:0} s"));
        _networkRoundQueued = true;
        Schedule(new NetworkRound(), _networkBackoff);
        _networkBackoff = TimeSpan.FromTicks(Math.Min(_networkBackoff.Ticks * 2, options.NetworkRetryLongest.Ticks));
    }

    /// <summary>Queues <paramref name="work"/> after <paramref name="delay"/>, unless the service
    /// stops first.</summary>
    private void Schedule(WatchWork work, TimeSpan delay)
    {
        var queue = _queue!;
        _ = Task.Delay(delay < TimeSpan.Zero ? TimeSpan.Zero : delay, _stopping)
            .ContinueWith(_ => queue.TryWrite(work), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }

    private void LogFinished(string subject, UnlockOutcome outcome, UnlockReport unlock)
    {
        var started = unlock.Guests.Count(g => g.Outcome == GuestOutcome.Started);
        var already = unlock.Guests.Count(g => g.Outcome == GuestOutcome.AlreadyRunning);
        log.Notice(string.Create(CultureInfo.InvariantCulture,
            $"{subject}: unlock finished{(unlock.Interrupted ? " (interrupted)" : "")}: {unlock.Totals.GuestsRunning}/{unlock.Totals.GuestsInScope} guest(s) running ({started} started, {already} already running), exit {ExitCodes.Of(outcome.Ending)}"));
    }

    private async Task UnlockFromAsync(BlockDisk disk, CancellationToken cancellationToken)
    {
        using var runLock = AcquireRunLock(disk.Name, cancellationToken);
        var clock = Stopwatch.StartNew();
        UsbKeyPresentation keys;
        try
        {
            keys = UsbKeyPresentation.Read(disk.DeviceNode, options.KeysDepth);
        }
        catch (FatFormatException e)
        {
            log.Info($"{disk.Name}: no usable FAT file system, ignored ({e.Message})");
            return;
        }
        catch (IOException e)
        {
            // KeyDeviceException included: gone again, or not openable. No key was kept.
            log.Warning($"{disk.Name}: cannot be read, no key used: {e.Message}");
            return;
        }

        // The run takes the keys over; whatever it does not take is zeroed here.
        using var stick = new PresentedSource($"USB stick {disk.DeviceNode}", keys);
        LogRead(disk.Name, keys.Report, keys.IgnoredCount, clock);
        var unlock = await RunPresentedAsync(disk.Name, stick, keys.Report, cancellationToken).ConfigureAwait(false);
        if (unlock is not null && unlock.Guests.Any(g => g.Outcome == GuestOutcome.Started))
        {
            _unlockedBy[disk.Name] = disk;
        }
    }

    /// <summary>What a stick or the key directory gave (never a key).</summary>
    private void LogRead(string subject, KeysReport report, int ignored, Stopwatch clock) =>
        log.Info(string.Create(CultureInfo.InvariantCulture,
            $"{subject}: {report.Presented} key(s) read in {clock.Elapsed.TotalMilliseconds:0.0} ms; {report.Rejected.Count} rejected, {ignored} other file(s) ignored"));

    /// <summary>
    /// A batch from a stick, the key directory or a password agent, under the run lock the caller
    /// holds: what was refused is logged (never a key), then the run with the batch first and the
    /// Tang bindings after (only asked when its keys leave guests off). Returns the run's report;
    /// null when nothing was presented or there is none.
    /// </summary>
    private async Task<UnlockReport?> RunPresentedAsync(string subject, PresentedSource keys, KeysReport report, CancellationToken cancellationToken)
    {
        foreach (var rejected in report.Rejected)
        {
            log.Warning($"{subject}: rejected: {rejected.Name}: {rejected.Reason}");
        }

        foreach (var skipped in report.Skipped)
        {
            log.Warning($"{subject}: skipped: {skipped.Where}: {skipped.Reason}");
        }

        if (report.Presented == 0)
        {
            log.Info($"{subject}: no key; nothing to unlock");
            return null;
        }

        var outcome = await new UnlockEngine(options.Unlock, log).RunLockedAsync([keys, _tang], _shareWindow, cancellationToken).ConfigureAwait(false);
        AfterRun(outcome);
        if (outcome.Report is not { } unlock)
        {
            log.Warning(string.Create(CultureInfo.InvariantCulture, $"{subject}: unlock ended without a report (exit {ExitCodes.Of(outcome.Ending)})"));
            return null;
        }

        LogFinished(subject, outcome, unlock);
        return unlock;
    }

    /// <summary>After the start-up work (the sticks present, the first Tang round): with
    /// --ask-password, the guests still off are asked for through systemd's password agents.</summary>
    private Task AskPasswordIfWanted(CancellationToken cancellationToken)
    {
        if (!options.AskPassword)
        {
            return Task.CompletedTask;
        }

        _passwordRequest = new WatchPasswordRequest(
            log,
            WaitingContainers,
            SubmitAnswer,
            options.PasswordRequestCheck,
            options.PasswordRequestPause);
        _passwordRequest.Start(cancellationToken);
        return Task.CompletedTask;
    }

    /// <summary>The guests still off, for the password request; its own quiet engine, since the
    /// check runs every few seconds and the runs log any configuration problem.</summary>
    private IReadOnlyList<ContainerInScope>? WaitingContainers()
    {
        using var quiet = new ActivityLog(null, null);
        return new UnlockEngine(options.Unlock, quiet).WaitingContainers();
    }

    /// <summary>Queues an answer for the worker; true once its run left every guest in scope running.</summary>
    private Task<bool> SubmitAnswer(IKeyPresentation answer, CancellationToken cancellationToken)
    {
        var work = new PassphraseWork(answer, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue!.TryWrite(work))
        {
            // The service is stopping: the answer is zeroed, not run.
            answer.Dispose();
            return Task.FromCanceled<bool>(new CancellationToken(canceled: true));
        }

        return work.EveryGuestRuns.Task.WaitAsync(cancellationToken);
    }

    private async Task RunPassphraseAsync(PassphraseWork work, CancellationToken cancellationToken)
    {
        // The run takes the answer over; whatever it does not take is zeroed here.
        using var answer = new PresentedSource("a passphrase from a password agent", work.Answer);
        try
        {
            using var runLock = AcquireRunLock("password agent", cancellationToken);
            if (await RunPresentedAsync("password agent", answer, work.Answer.Report, cancellationToken).ConfigureAwait(false) is { } report)
            {
                work.EveryGuestRuns.TrySetResult(EveryGuestRuns(report));
            }
        }
        finally
        {
            work.EveryGuestRuns.TrySetResult(false);
        }
    }

    /// <summary>Answers queued when the service stopped: zeroed, never run.</summary>
    private static void DisposeUnrunAnswers(ChannelReader<WatchWork> queue)
    {
        while (queue.TryRead(out var work))
        {
            if (work is PassphraseWork passphrase)
            {
                passphrase.Answer.Dispose();
                passphrase.EveryGuestRuns.TrySetCanceled();
            }
        }
    }

    private async Task LockIfUnlockedByAsync(BlockDisk disk, CancellationToken cancellationToken)
    {
        if (!_unlockedBy.Remove(disk.Name, out var unlocker) || !unlocker.IsSameMedium(disk) || !options.LockOnRemoval)
        {
            return;
        }

        WipeShares($"{disk.Name}: locking");
        log.Notice($"{disk.Name}: the stick that unlocked the host was removed; locking (--lock-on-removal)");
        using var runLock = AcquireRunLock(disk.Name, cancellationToken);
        var unlock = options.Unlock;
        try
        {
            var locker = new HostLocker(unlock.ConnectUri, unlock.ConfigPath, unlock.VmNames, options.LockShutdownTimeout, log);
            var report = await locker.RunAsync(cancellationToken).ConfigureAwait(false);
            log.Notice(string.Create(CultureInfo.InvariantCulture,
                $"{disk.Name}: lock finished: {report.Guests.Count} guest(s), {(report.Succeeded ? "all locked" : "some failed")}"));
        }
        catch (Exception e) when (e is ConfigurationException or UnknownGuestException or LibvirtException or TimeoutException)
        {
            log.Error($"{disk.Name}: lock failed: {e.Message}");
        }
    }

    /// <summary>Start-up, before the first stick: keys an interrupted run (kill -9, a lost
    /// connection) left in libvirt secrets are removed, under the run lock so that no run under
    /// way loses the secret it is using (the wait is on a thread of its own).</summary>
    private Task SweepLeftoverSecretsAsync(CancellationToken cancellationToken) => Task.Run(() =>
    {
        try
        {
            using var runLock = AcquireRunLock("start-up (looking for libvirt secrets left by an interrupted run)", cancellationToken);
            using var connection = LibvirtConnection.Open(options.Unlock.ConnectUri);
            var swept = LeftoverSecrets.Sweep(connection, log);
            log.Info(string.Create(CultureInfo.InvariantCulture, $"start-up: {swept.Count} libvirt secret(s) left by an interrupted run removed"));
        }
        catch (Exception e) when (e is LibvirtException or IOException or UnauthorizedAccessException)
        {
            log.Error($"cannot look for libvirt secrets left by an interrupted run: {e.Message}; the next unlock removes them");
        }
    }, cancellationToken);

    /// <summary>The flock every luksvirt run takes; waits as long as another run (an
    /// administrator's unlock, a long lock) holds it, saying so once.</summary>
    private FileLock AcquireRunLock(string waiter, CancellationToken cancellationToken) =>
        RunLock.AcquireForService(log, waiter, cancellationToken);

    /// <summary>Wipes the quorum shares still held, however the service ends (RunAsync has
    /// waited for the password request to go).</summary>
    public void Dispose()
    {
        _shareWindow.Dispose();
        _passwordRequest?.Dispose();
    }

    private void NotifySystemd(string state)
    {
        try
        {
            _ = SystemdNotifier.Notify(state);
        }
        catch (SocketException e)
        {
            log.Warning($"cannot notify systemd ({SystemdNotifier.Variable}): {e.Message}");
        }
    }
}
