using System.Runtime.InteropServices;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Unlock;
using LuksVirt.Libc;
using LuksVirt.Libvirt;

namespace LuksVirt.Cli;

/// <summary>
/// One unlock run around the engine, shared by <c>unlock</c>, <c>usb</c> and <c>watch</c>:
/// no core dumps while keys are in memory, one run at a time (flock), SIGINT/SIGTERM cancel
/// cleanly, and whatever happens the keys are zeroed and the key files wiped.
/// </summary>
internal static class UnlockExecution
{
    public const string LockPath = "/run/luksvirt/lock";
    public static readonly TimeSpan LockWait = TimeSpan.FromSeconds(60);

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
            catch (KeyDirectoryException e)
            {
                log.Error(e.Message);
                return ExitCodes.Usage;
            }

            using (keys)
            {
                // The keys are in locked memory now: their files go at once, not after the run,
                // so no failure, interruption or kill later on can leave them behind.
                WipeUnlessDryRun(keys, options, log);
                try
                {
                    var report = await new UnlockRunner(options, log).RunAsync(keys.Keys, keys.Report, interrupted.Token).ConfigureAwait(false);
                    UnlockReportView.Write(report, json);
                    return report.AllGuestsRunning ? ExitCodes.Success : ExitCodes.Failure;
                }
                catch (Exception e) when (e is ConfigurationException or UnknownGuestException)
                {
                    log.Error(e.Message);
                    return ExitCodes.Usage;
                }
                catch (OperationCanceledException)
                {
                    log.Warning("unlock interrupted: keys wiped; guests not yet started stay off");
                    return ExitCodes.Failure;
                }
                catch (LibvirtException e)
                {
                    log.Error($"libvirt: {e.Message}; is libvirtd running? (systemctl start libvirtd)");
                    return ExitCodes.Failure;
                }
            }
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
            log.Info($"presented key files deleted ({keys.Keys.Count} key(s) zeroed in memory)");
        }
        catch (IOException e)
        {
            log.Error($"cannot delete presented key files: {e.Message}; delete them by hand");
        }
    }
}
