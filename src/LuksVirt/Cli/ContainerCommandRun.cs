using System.Runtime.InteropServices;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Logging;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.OpenSsl;

namespace LuksVirt.Cli;

/// <summary>
/// What <c>create</c> and <c>encrypt-vm</c> share around their work: no core dumps while keys
/// are in memory, SIGINT/SIGTERM cancel (the work then undoes itself), and one mapping from
/// exceptions to exit codes: refusals and bad configuration are usage errors (2, nothing
/// changed), everything else a failure (1).
/// </summary>
internal static class ContainerCommandRun
{
    public static async Task<int> RunAsync(string logPath, Func<ActivityLog, CancellationToken, Task<int>> work, CancellationToken cancellationToken)
    {
        ProcessHardening.DisableDumping();
        using var log = new ActivityLog(logPath, console: null);
        using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void Interrupt(PosixSignalContext context)
        {
            context.Cancel = true;
            interrupted.Cancel();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
        try
        {
            return await work(log, interrupted.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ContainerRefusedException or ConfigurationException)
        {
            return Fail(log, ExitCodes.Usage, $"refused: {e.Message}");
        }
        catch (OperationCanceledException)
        {
            return Fail(log, ExitCodes.Failure, "interrupted: this run's changes were undone");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptsetupException or LibvirtException or OpenSslException
            or InvalidOperationException or FormatException or System.Xml.XmlException or System.Text.Json.JsonException or System.ComponentModel.Win32Exception)
        {
            return Fail(log, ExitCodes.Failure, $"failed: {e.Message}");
        }
    }

    private static int Fail(ActivityLog log, int exitCode, string message)
    {
        log.Error(message);
        Console.Error.WriteLine(message);
        return exitCode;
    }
}
