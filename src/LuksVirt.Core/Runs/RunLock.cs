using System.Globalization;
using LuksVirt.Core.Logging;
using LuksVirt.Interop.Libc;

namespace LuksVirt.Core.Runs;

/// <summary>
/// The flock every luksvirt run that changes the host takes (unlock, usb, lock, watch): one run
/// at a time, released by the kernel when the process dies. A wait is never silent: it is
/// announced at once, naming the process that holds the lock.
/// </summary>
public static class RunLock
{
    public const string Path = "/run/luksvirt/lock";

    /// <summary>How long a command waits for another run before it gives up.</summary>
    public static readonly TimeSpan CommandWait = TimeSpan.FromSeconds(60);

    /// <summary>For a command someone waits for: up to <see cref="CommandWait"/>, announced as a notice.</summary>
    /// <exception cref="TimeoutException">Still held after <see cref="CommandWait"/>.</exception>
    /// <exception cref="OperationCanceledException">Interrupted while waiting.</exception>
    public static FileLock AcquireForCommand(ActivityLog log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(log);
        return FileLock.Acquire(Path, CommandWait, holder => log.Notice(string.Create(CultureInfo.InvariantCulture,
            $"waiting for the run lock {Path}, held by {Describe(holder)}; up to {CommandWait.TotalSeconds:0} s (Ctrl-C gives up, changing nothing)")),
            cancellationToken);
    }

    /// <summary>For the service: waits as long as another run (an administrator's unlock, a long
    /// lock) holds it, saying once who waits (<paramref name="waiter"/>) for whom.</summary>
    /// <exception cref="OperationCanceledException">The service is stopping.</exception>
    public static FileLock AcquireForService(ActivityLog log, string waiter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(log);
        return FileLock.Acquire(Path, Timeout.InfiniteTimeSpan,
            holder => log.Info($"{waiter}: waiting for the run lock {Path}, held by {Describe(holder)}"),
            cancellationToken);
    }

    private static string Describe(LockHolder? holder) => holder?.ToString() ?? "another process";
}
