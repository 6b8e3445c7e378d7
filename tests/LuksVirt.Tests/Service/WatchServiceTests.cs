using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Service;

/// <summary><c>luksvirt watch</c> as systemd runs it, without any stick: readiness, journal
/// priorities, a clean stop, and usage errors.</summary>
public sealed class WatchServiceTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _directory = new("watch");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Under_systemd_it_reports_ready_logs_with_priorities_and_stops_cleanly_on_sigterm()
    {
        var log = _directory.PathOf("luksvirt.log");
        using var watch = WatchProcess.Start(_directory, ["--log", log, "--config", ConfigFile(), "--state", _directory.PathOf("state.json")], journalStream: true);

        await watch.WaitReadyAsync(Bound);
        var ready = await watch.WaitForLineAsync("watching for key sticks", Bound);

        Assert.StartsWith("<5>watching for key sticks (removable USB disks)", watch.Lines[ready], StringComparison.Ordinal);
        Assert.Equal(0, watch.Terminate(Bound));
        Assert.Contains("<5>watch stopping", watch.Lines);
        Assert.Contains(" notice: watching for key sticks", File.ReadAllText(log), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--device-filter", "../sda")]
    [InlineData("--keys-depth", "9")]
    [InlineData("--lock-timeout", "-1")]
    public void Bad_options_are_usage_errors(string option, string value)
    {
        var result = LuksVirtCli.Run(["watch", option, value, "--log", _directory.PathOf("luksvirt.log")], TimeSpan.FromSeconds(30));

        Assert.Equal(2, result.ExitCode);
    }

    private string ConfigFile()
    {
        var path = _directory.PathOf("luksvirt.xml");
        File.WriteAllText(path, "<vms/>");
        return path;
    }
}
