using LuksVirt.Core.Logging;
using LuksVirt.Core.Metrics;
using LuksVirt.Core.Runs;
using LuksVirt.Core.Status;

namespace LuksVirt.Service;

/// <summary>The watch's metrics file: the same report as <c>luksvirt status</c>, read with a
/// log of its own that stays silent (configuration warnings are the runs' to report, not once a
/// minute).</summary>
internal static class WatchMetrics
{
    public static MetricsFile? Open(WatchOptions options, ActivityLog log)
    {
        if (options.MetricsFile is not { } path)
        {
            return null;
        }

        var unlock = options.Unlock;
        return new MetricsFile(path, () =>
        {
            using var quiet = new ActivityLog(null, null);
            return new StatusReporter(unlock.ConnectUri, unlock.ConfigPath, unlock.StatePath, RunLock.Path, quiet).Run();
        }, log);
    }
}
