using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Threading.Channels;
using LuksVirt.Core.Activation;
using LuksVirt.Core.Devices;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.KeySources.UsbStick;
using LuksVirt.Core.Lock;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Metrics;
using LuksVirt.Core.Runs;
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
internal sealed class WatchService(WatchOptions options, ActivityLog log)
{
    // Disks whose keys started guests, by kernel name: pulling exactly that medium locks the host
    // when LockOnRemoval is set. Touched by the worker only.
    private readonly Dictionary<string, BlockDisk> _unlockedBy = new(StringComparer.Ordinal);

    private MetricsFile? _metrics;

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

            var queue = Channel.CreateUnbounded<BlockDiskChange>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            Enqueue(queue.Writer, initial);
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
            await metricsLoop.ConfigureAwait(false);
            return exitCode;
        }
    }

    private void Enqueue(ChannelWriter<BlockDiskChange> queue, IReadOnlyList<BlockDiskChange> changes)
    {
        foreach (var change in changes)
        {
            var disk = change.Disk;
            log.Info(change.Kind == BlockDiskChangeKind.Appeared
                ? string.Create(CultureInfo.InvariantCulture, $"{disk.Name}: medium appeared ({disk.DeviceNode}, {disk.SizeBytes} bytes, diskseq {disk.DiskSeq?.ToString(CultureInfo.InvariantCulture) ?? "-"})")
                : $"{disk.Name}: medium removed");
            _ = queue.TryWrite(change);   // unbounded: always accepted
        }
    }

    private async Task WorkAsync(ChannelReader<BlockDiskChange> queue, CancellationToken cancellationToken)
    {
        try
        {
            await SweepLeftoverSecretsAsync(cancellationToken).ConfigureAwait(false);
            await foreach (var change in queue.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    if (change.Kind == BlockDiskChangeKind.Appeared)
                    {
                        await UnlockFromAsync(change.Disk, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await LockIfUnlockedByAsync(change.Disk, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // A service must outlive one bad stick or one failed run; the next stick may work.
                    log.Error($"{change.Disk.Name}: {e.GetType().Name}: {e.Message}");
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

        using (keys)
        {
            var report = keys.Report;
            log.Info(string.Create(CultureInfo.InvariantCulture,
                $"{disk.Name}: {report.Presented} key(s) read in {clock.Elapsed.TotalMilliseconds:0.0} ms; {report.Rejected.Count} rejected, {keys.IgnoredCount} other file(s) ignored"));
            foreach (var rejected in report.Rejected)
            {
                log.Warning($"{disk.Name}: key file rejected: {rejected.Name}: {rejected.Reason}");
            }

            foreach (var skipped in report.Skipped)
            {
                log.Warning($"{disk.Name}: skipped on the stick: {skipped.Where}: {skipped.Reason}");
            }

            if (report.Presented == 0)
            {
                log.Info($"{disk.Name}: no key files on it; nothing to unlock");
                return;
            }

            var outcome = await new UnlockEngine(options.Unlock, log).RunPresentedAsync(keys, cancellationToken).ConfigureAwait(false);
            var exitCode = ExitCodes.Of(outcome.Ending);
            if (outcome.Report is not { } unlock)
            {
                log.Warning(string.Create(CultureInfo.InvariantCulture, $"{disk.Name}: unlock ended without a report (exit {exitCode})"));
                return;
            }

            var started = unlock.Guests.Count(g => g.Outcome == GuestOutcome.Started);
            var already = unlock.Guests.Count(g => g.Outcome == GuestOutcome.AlreadyRunning);
            log.Notice(string.Create(CultureInfo.InvariantCulture,
                $"{disk.Name}: unlock finished{(unlock.Interrupted ? " (interrupted)" : "")}: {unlock.Totals.GuestsRunning}/{unlock.Totals.GuestsInScope} guest(s) running ({started} started, {already} already running), exit {exitCode}"));
            if (started > 0)
            {
                _unlockedBy[disk.Name] = disk;
            }
        }
    }

    private async Task LockIfUnlockedByAsync(BlockDisk disk, CancellationToken cancellationToken)
    {
        if (!_unlockedBy.Remove(disk.Name, out var unlocker) || !unlocker.IsSameMedium(disk) || !options.LockOnRemoval)
        {
            return;
        }

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
