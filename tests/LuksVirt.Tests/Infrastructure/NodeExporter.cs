using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LuksVirt.Tests.Infrastructure;

/// <summary>
/// Debian's real prometheus-node-exporter with only its textfile collector, reading
/// <c>*.prom</c> files from one directory and serving them on a free loopback port; killed on
/// Dispose. Required on CI (scripts/setup.sh installs it): a missing binary fails the test.
/// </summary>
public sealed class NodeExporter : IDisposable
{
    public const string Binary = "/usr/bin/prometheus-node-exporter";

    private readonly Process _process;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private NodeExporter(Process process, int port)
    {
        _process = process;
        MetricsUri = new Uri($"http://127.0.0.1:{port}/metrics");
    }

    public Uri MetricsUri { get; }

    public static async Task<NodeExporter> StartAsync(string textfileDirectory)
    {
        Assert.True(File.Exists(Binary), $"{Binary} is missing: bash scripts/setup.sh installs prometheus-node-exporter");
        var port = FreeLoopbackPort();
        var start = new ProcessStartInfo(Binary)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var argument in new[] { "--collector.disable-defaults", "--collector.textfile", $"--collector.textfile.directory={textfileDirectory}", $"--web.listen-address=127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var exporter = new NodeExporter(process, port);
        try
        {
            await exporter.WaitServingAsync().ConfigureAwait(false);
            return exporter;
        }
        catch
        {
            exporter.Dispose();
            throw;
        }
    }

    /// <summary>What node_exporter serves now, one line per element.</summary>
    public async Task<string[]> ScrapeAsync() =>
        (await _http.GetStringAsync(MetricsUri).ConfigureAwait(false)).Split('\n');

    public void Dispose()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
        _http.Dispose();
    }

    private async Task WaitServingAsync()
    {
        // Until it answers, or has exited: a bound, not a measurement.
        for (var attempt = 0; attempt < 300; attempt++)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"node_exporter exited with {_process.ExitCode}");
            }

            try
            {
                using var response = await _http.GetAsync(MetricsUri).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100).ConfigureAwait(false);
        }

        throw new TimeoutException($"node_exporter did not serve {MetricsUri}");
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
