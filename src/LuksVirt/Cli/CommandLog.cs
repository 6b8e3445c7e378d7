using LuksVirt.Core.Logging;

namespace LuksVirt.Cli;

/// <summary>
/// The log file as the commands that change the host (<c>unlock</c>, <c>usb</c>, <c>lock</c>)
/// treat it: an unsafe path (a symbolic link, not a regular file, open to others) stops the
/// command before it touches anything; a log that cannot be written is said once, and the run
/// goes on with stderr alone.
/// </summary>
internal static class CommandLog
{
    /// <summary>False when the log path is refused (the command exits 2); warns about a log
    /// file that cannot be opened for another reason.</summary>
    public static bool Accept(ActivityLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (log.Refusal is { } refusal)
        {
            log.Error($"{refusal}; nothing was changed");
            return false;
        }

        foreach (var problem in log.FileErrors)
        {
            log.Warning($"{problem}; logging to stderr only");
        }

        return true;
    }

    /// <summary>Disposed at the end of a command (before the log): one warning when lines did
    /// not reach the log file.</summary>
    public static IDisposable ReportLostLinesAtEnd(ActivityLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        return new LostLinesReport(log);
    }

    private sealed class LostLinesReport(ActivityLog log) : IDisposable
    {
        public void Dispose()
        {
            if (log.WriteFailureSummary is { } summary)
            {
                log.Warning(summary);
            }
        }
    }
}
