using System.Runtime.InteropServices;

namespace LuksVirt.Core.Runs;

/// <summary>
/// SIGTERM and SIGINT as a cancellation: instead of dying mid-step, the process goes on to the
/// next point where stopping leaves nothing half-done (keys zeroed, guests not yet started left
/// off). Disposing restores the default handling.
/// </summary>
public sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly PosixSignalRegistration _sigterm;
    private readonly PosixSignalRegistration _sigint;

    private StopSignals(CancellationToken outer)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
    }

    /// <summary>Cancelled by SIGTERM, SIGINT, or <see cref="Listen"/>'s own token.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>Catches SIGTERM and SIGINT until disposed.</summary>
    public static StopSignals Listen(CancellationToken cancellationToken) => new(cancellationToken);

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        _stop.Dispose();
    }

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        _stop.Cancel();
    }
}
