using System.Globalization;
using System.Runtime.InteropServices;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Logging;
using LuksVirt.Core.State;
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
/// <remarks>
/// Exit 2 means nothing was touched. So everything the run is pointed at is checked first, before
/// it waits for the lock and long before a key is read: the log path, the configuration file,
/// the state file path and the <c>--vm</c> names (against libvirt's domains). Each of those files
/// is opened without blocking and must be a regular file. Only then are the keys read, and their
/// files wiped at once.
/// </remarks>
internal static class UnlockExecution
{
    public const string LockPath = "/run/luksvirt/lock";
    public static readonly TimeSpan LockWait = TimeSpan.FromSeconds(60);

    /// <summary>A whole command: hardening, log, signals, checks, the lock, the keys, the run, the report.</summary>
    public static async Task<int> RunAsync(UnlockOptions options, string logPath, bool json, Func<IKeyPresentation> presentKeys, CancellationToken cancellationToken)
    {
        ProcessHardening.DisableDumping();
        using var log = new ActivityLog(logPath, Console.Error);
        if (!CommandLog.Accept(log))
        {
            return ExitCodes.Usage;
        }

        using var lostLines = CommandLog.ReportLostLinesAtEnd(log);
        return await RunLoggedAsync(options, log, json, presentKeys, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The run itself, for a caller that already holds the lock and owns the keys, the log and
    /// the cancellation (the watch service). The inputs are checked first (exit 2, the keys unused);
    /// then the key source is wiped (unless a dry run); the caller disposes <paramref name="keys"/>.
    /// </summary>
    public static async Task<UnlockOutcome> RunWithKeysAsync(UnlockOptions options, ActivityLog log, IKeyPresentation keys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (CheckInputs(options, log) is { } refused)
        {
            return new UnlockOutcome(refused, null);
        }

        return await RunCheckedAsync(options, log, keys, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The run lock every luksvirt run takes, waiting up to <see cref="LockWait"/>. A wait
    /// is announced at once, naming the process that holds the lock.</summary>
    /// <exception cref="TimeoutException">Still held after <see cref="LockWait"/>.</exception>
    /// <exception cref="OperationCanceledException">Interrupted while waiting.</exception>
    public static FileLock AcquireRunLock(ActivityLog log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(log);
        return FileLock.Acquire(LockPath, LockWait, holder => log.Notice(string.Create(CultureInfo.InvariantCulture,
            $"waiting for the run lock {LockPath}, held by {holder?.ToString() ?? "another process"}; up to {LockWait.TotalSeconds:0} s (Ctrl-C gives up, changing nothing)")),
            cancellationToken);
    }

    private static async Task<int> RunLoggedAsync(UnlockOptions options, ActivityLog log, bool json, Func<IKeyPresentation> presentKeys, CancellationToken cancellationToken)
    {
        using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void Interrupt(PosixSignalContext context)
        {
            context.Cancel = true;
            interrupted.Cancel();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);

        if (CheckInputs(options, log) is { } refused)
        {
            return refused;
        }

        FileLock runLock;
        try
        {
            runLock = AcquireRunLock(log, interrupted.Token);
        }
        catch (TimeoutException e)
        {
            log.Error($"{e.Message}; nothing was changed");
            return ExitCodes.Failure;
        }
        catch (OperationCanceledException)
        {
            log.Error("interrupted while waiting for the run lock; nothing was changed");
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
                var outcome = await RunCheckedAsync(options, log, keys, interrupted.Token).ConfigureAwait(false);
                if (outcome.Report is not null)
                {
                    UnlockReportView.Write(outcome.Report, json);
                }

                return outcome.ExitCode;
            }
        }
    }

    /// <summary>
    /// Everything that would make the run refuse, checked while nothing is touched: the
    /// configuration file, the state file path, the <c>--vm</c> names (when libvirt answers).
    /// Returns the exit code of a refusal (2), or null when the run may go on.
    /// </summary>
    private static int? CheckInputs(UnlockOptions options, ActivityLog log)
    {
        InventoryConfig config;
        try
        {
            config = InventoryConfigLoader.LoadExplicitOrDefault(options.ConfigPath);
        }
        catch (ConfigurationException e)
        {
            log.Error(e.Message);
            return ExitCodes.Usage;
        }

        if (new UnlockStateStore(options.StatePath).CheckPath() is { } stateProblem)
        {
            log.Error(stateProblem);
            return ExitCodes.Usage;
        }

        try
        {
            using var connection = LibvirtConnection.Open(options.ConnectUri);
            LiveInventory.Validate(connection, config, options.VmNames);
        }
        catch (UnknownGuestException e)
        {
            log.Error(e.Message);
            return ExitCodes.Usage;
        }
        catch (LibvirtException)
        {
            // libvirt unreachable is a failure of the run, not of its inputs: the run goes on,
            // reads and wipes the presented keys (no key is left behind, reliability fault 8),
            // and reports the lost connection with its fix (exit 1).
        }

        return null;
    }

    /// <summary>The run once its inputs passed <see cref="CheckInputs"/>: wipe, then the engine.</summary>
    private static async Task<UnlockOutcome> RunCheckedAsync(UnlockOptions options, ActivityLog log, IKeyPresentation keys, CancellationToken cancellationToken)
    {
        // The keys are in locked memory now: their files go at once, not after the run,
        // so no failure, interruption or kill later on can leave them behind.
        WipeUnlessDryRun(keys, options, log);
        try
        {
            var report = await new UnlockRunner(options, log).RunAsync(keys.Keys, keys.Report, cancellationToken).ConfigureAwait(false);
            // A refused key file stays in the key directory and its key was not used: the run did
            // not do all it was asked, and the administrator has a file to deal with.
            var refusedKeyFiles = keys is DirectoryKeyPresentation { HasRejectedKeyFiles: true };
            return new UnlockOutcome(report.AllGuestsRunning && !refusedKeyFiles ? ExitCodes.Success : ExitCodes.Failure, report);
        }
        catch (Exception e) when (e is ConfigurationException or UnknownGuestException)
        {
            // Checked before the keys were read, so the file or the domains changed since: once key
            // files are gone, "nothing was changed" (exit 2) is no longer true.
            if (keys.Report.Deleted)
            {
                log.Error($"{e.Message} (changed during the run; the presented key files were already deleted)");
                return new UnlockOutcome(ExitCodes.Failure, null);
            }

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
