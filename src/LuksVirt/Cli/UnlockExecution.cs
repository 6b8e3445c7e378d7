using System.Runtime.InteropServices;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Unlock;
using LuksVirt.Libc;
using LuksVirt.Libvirt;

namespace LuksVirt.Cli;

/// <summary>How one unlock run ended: the exit code of the command-line contract, and the
/// report when the run got as far as making one.</summary>
internal sealed record UnlockOutcome(int ExitCode, UnlockReport? Report);

/// <summary>
/// One unlock run around the engine, shared by <c>unlock</c>, <c>usb</c> and <c>watch</c>:
/// no core dumps while keys are in memory, one run at a time (flock), SIGINT/SIGTERM cancel
/// cleanly, and whatever happens the keys are zeroed and the key files wiped.
/// </summary>
internal static class UnlockExecution
{
    public const string LockPath = "/run/luksvirt/lock";
    public static readonly TimeSpan LockWait = TimeSpan.FromSeconds(60);

    /// <summary>A whole command: hardening, log, signals, the lock, the keys, the run, the report.</summary>
    public static async Task<int> RunAsync(UnlockOptions options, string logPath, bool json, Func<IKeyPresentation> presentKeys, CancellationToken cancellationToken)
    {
        ProcessHardening.DisableDumping();
        using var log = new ActivityLog(logPath, Console.Error);
        using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void Interrupt(PosixSignalContext context)
        {
            context.Cancel = true;
            interrupted.Cancel();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);

        FileLock runLock;
        try
        {
            runLock = FileLock.Acquire(LockPath, LockWait, interrupted.Token);
        }
        catch (TimeoutException e)
        {
            log.Error(e.Message);
            return ExitCodes.Failure;
        }

        using (runLock)
        {
            IKeyPresentation keys;
            try
            {
                keys = presentKeys();
            }
            catch (Exception e) when (e is KeyDirectoryException or KeyDeviceException)
            {
                log.Error(e.Message);
                return ExitCodes.Usage;
            }
            catch (IOException e)
            {
                // No FAT file system, a damaged one, or a stick pulled mid-read: no key was kept.
                log.Error($"cannot read keys: {e.Message}");
                return ExitCodes.Failure;
            }

            using (keys)
            {
                var outcome = await RunWithKeysAsync(options, log, keys, interrupted.Token).ConfigureAwait(false);
                if (outcome.Report is not null)
                {
                    UnlockReportView.Write(outcome.Report, json);
                }

                return outcome.ExitCode;
            }
        }
    }

    /// <summary>
    /// The run itself, for a caller that already holds the lock and owns the keys, the log and
    /// the cancellation (the watch service). The key source is wiped first (unless a dry run);
    /// the caller disposes <paramref name="keys"/>.
    /// </summary>
    public static async Task<UnlockOutcome> RunWithKeysAsync(UnlockOptions options, ActivityLog log, IKeyPresentation keys, CancellationToken cancellationToken)
    {
        // The keys are in locked memory now: their files go at once, not after the run,
        // so no failure, interruption or kill later on can leave them behind.
        WipeUnlessDryRun(keys, options, log);
        try
        {
            var report = await new UnlockRunner(options, log).RunAsync(keys.Keys, keys.Report, cancellationToken).ConfigureAwait(false);
            return new UnlockOutcome(report.AllGuestsRunning ? ExitCodes.Success : ExitCodes.Failure, report);
        }
        catch (Exception e) when (e is ConfigurationException or UnknownGuestException)
        {
            log.Error(e.Message);
            return new UnlockOutcome(ExitCodes.Usage, null);
        }
        catch (OperationCanceledException)
        {
            log.Warning("unlock interrupted: keys wiped; guests not yet started stay off");
            return new UnlockOutcome(ExitCodes.Failure, null);
        }
        catch (LibvirtException e)
        {
            log.Error($"libvirt: {e.Message}; is libvirtd running? (systemctl start libvirtd)");
            return new UnlockOutcome(ExitCodes.Failure, null);
        }
    }

    private static void WipeUnlessDryRun(IKeyPresentation keys, UnlockOptions options, ActivityLog log)
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
                log.Info($"presented key files deleted; {keys.Keys.Count} key(s) stay in locked memory until the run ends");
            }
        }
        catch (IOException e)
        {
            log.Error($"cannot delete presented key files: {e.Message}; delete them by hand");
        }
    }
}
