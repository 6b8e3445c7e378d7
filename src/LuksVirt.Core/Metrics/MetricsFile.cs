using System.Text;
using LuksVirt.Core.Files;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Status;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Metrics;

/// <summary>
/// Keeps a file of <see cref="StatusMetrics"/> up to date for node_exporter's textfile collector
/// (Debian: /var/lib/prometheus/node-exporter/*.prom): written at start, after every run the
/// service makes (<see cref="RequestRefresh"/>) and every interval, each time replaced
/// atomically (<see cref="AtomicFile"/>), mode 0644 so that node_exporter's user can read it.
/// A failure is logged once, and again only after a success: the service never stops for it.
/// </summary>
public sealed class MetricsFile(string path, Func<StatusReport> readStatus, ActivityLog log) : IDisposable
{
    private const UnixFileMode Mode0644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private readonly SemaphoreSlim _refresh = new(0, 1);
    private bool _failing;

    public string FilePath => path;

    /// <summary>Writes the file now and then after each <see cref="RequestRefresh"/> or
    /// <paramref name="interval"/>, until <paramref name="cancellationToken"/> fires.</summary>
    public Task RunAsync(TimeSpan interval, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Write();
            try
            {
                await _refresh.WaitAsync(interval, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }, CancellationToken.None);

    /// <summary>Asks for a new file as soon as possible (requests while one is pending are one).</summary>
    public void RequestRefresh()
    {
        try
        {
            _refresh.Release();
        }
        catch (SemaphoreFullException)
        {
            // A refresh is already pending.
        }
    }

    /// <summary>Reads the status and replaces the file; false (logged) when either failed.</summary>
    public bool Write()
    {
        try
        {
            var text = StatusMetrics.Render(readStatus());
            AtomicFile.Replace(path, Encoding.UTF8.GetBytes(text), Mode0644);
            if (_failing)
            {
                log.Info($"metrics file {path} written again");
            }

            _failing = false;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or LibvirtException or ConfigurationException or UnknownGuestException)
        {
            if (!_failing)
            {
                log.Warning($"cannot write the metrics file {path}: {e.Message}; the service goes on, and says when the file is written again");
            }

            _failing = true;
            return false;
        }
    }

    public void Dispose() => _refresh.Dispose();
}
