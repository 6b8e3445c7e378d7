using System.Globalization;
using System.Text.Json;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Service;
using LuksVirt.Tests.Unlock;

namespace LuksVirt.Tests.Metrics;

/// <summary>
/// The metrics as a monitoring system sees them: written by <c>status --prometheus</c> and by
/// the watch service, served by the real node_exporter, checked by the real promtool, with the
/// values <c>status --json</c> reports.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class MetricsEndToEndTests(LibvirtdFixture libvirtd) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly UnlockScenario _scenario = new(libvirtd);
    private readonly TempDirectory _textfiles = new("luksvirt-metrics");

    public void Dispose()
    {
        _scenario.Dispose();
        _textfiles.Dispose();
    }

    [Fact]
    public async Task Node_exporter_serves_the_status_of_an_unlocked_guest_as_status_json_reports_it()
    {
        var (guest, disk) = UnlockedGuest();
        var json = JsonDocument.Parse(Status("--json").StandardOutput).RootElement;
        var jsonGuest = UnlockScenario.GuestIn(json, guest);
        var lastUnlock = json.GetProperty("lastUnlock");
        var prometheus = Status("--prometheus").StandardOutput;
        File.WriteAllText(_textfiles.PathOf("luksvirt.prom"), prometheus);

        using var exporter = await NodeExporter.StartAsync(_textfiles.Path);
        var served = await exporter.ScrapeAsync();

        Assert.Contains("node_textfile_scrape_error 0", served);
        Assert.Contains($"luksvirt_guest_running{{guest=\"{guest.Name}\"}} {(jsonGuest.GetProperty("state").GetString() == "Running" ? 1 : 0)}", served);
        var jsonDisk = Assert.Single(jsonGuest.GetProperty("disks").EnumerateArray());
        Assert.Equal("InUse", jsonDisk.GetProperty("state").GetString());
        Assert.Contains($"luksvirt_disk_state{{backend=\"native\",container=\"{disk}\",guest=\"{guest.Name}\",state=\"in_use\"}} 1", served);
        Assert.Contains($"luksvirt_disk_state{{backend=\"native\",container=\"{disk}\",guest=\"{guest.Name}\",state=\"locked\"}} 0", served);
        Assert.Contains($"luksvirt_last_unlock_success {(lastUnlock.GetProperty("allGuestsRunning").GetBoolean() ? 1 : 0)}", served);
        Assert.Contains($"luksvirt_last_unlock_guests_running {lastUnlock.GetProperty("guestsRunning").GetInt32()}", served);
        var finished = lastUnlock.GetProperty("finishedAtUtc").GetDateTimeOffset().ToUnixTimeMilliseconds() / 1000.0;
        var servedTime = served.Single(l => l.StartsWith("luksvirt_last_unlock_timestamp_seconds ", StringComparison.Ordinal));
        Assert.Equal(finished, double.Parse(servedTime.Split(' ')[1], CultureInfo.InvariantCulture), precision: 3);
    }

    [Fact]
    public void Promtool_finds_nothing_to_lint_in_the_metrics()
    {
        UnlockedGuest();
        var prometheus = Status("--prometheus").StandardOutput;

        var check = ToolRunner.Run("/usr/bin/promtool", ["check", "metrics"], System.Text.Encoding.UTF8.GetBytes(prometheus));

        Assert.True(check.ExitCode == 0 && check.StandardOutput.Trim().Length == 0 && check.StandardError.Trim().Length == 0,
            $"promtool: exit {check.ExitCode}\n{check.StandardOutput}{check.StandardError}");
    }

    [Fact]
    public async Task The_watch_keeps_a_world_readable_metrics_file_that_node_exporter_serves()
    {
        var (guest, _) = UnlockedGuest();
        var file = _textfiles.PathOf("luksvirt.prom");
        using var watch = WatchProcess.Start(_scenario.Directory,
            ["--config", _scenario.ConfigPath, "--state", _scenario.StatePath, "--log", _scenario.Directory.PathOf("watch.log"),
             "--device-filter", "luksvirt-test-no-such-disk", "--metrics-file", file, "--metrics-interval", "1"]);
        await watch.WaitReadyAsync(Bound);
        await WaitForAsync(() => File.Exists(file));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(file));
        using var exporter = await NodeExporter.StartAsync(_textfiles.Path);
        var served = await exporter.ScrapeAsync();
        Assert.Contains("node_textfile_scrape_error 0", served);
        Assert.Contains($"luksvirt_guest_running{{guest=\"{guest.Name}\"}} 1", served);

        // The guest goes down: within an interval the file, and node_exporter, say so.
        _scenario.Guests.Destroy(guest);
        await WaitForAsync(() => File.ReadAllText(file).Contains($"luksvirt_guest_running{{guest=\"{guest.Name}\"}} 0", StringComparison.Ordinal));
        Assert.Contains($"luksvirt_guest_running{{guest=\"{guest.Name}\"}} 0", await exporter.ScrapeAsync());
        Assert.Equal(0, watch.Terminate(Bound));
        Assert.Empty(Directory.EnumerateFiles(_textfiles.Path, "*.tmp", SearchOption.TopDirectoryOnly).Concat(Directory.EnumerateFiles(_textfiles.Path, ".*")));
    }

    private (TestGuest Guest, string Disk) UnlockedGuest()
    {
        var alice = _scenario.NewKey("alice");
        var disk = _scenario.Guests.CreateDisk("metrics-d0", "vda", new Dictionary<int, TestKey> { [1] = alice });
        var guest = _scenario.Guests.Define(EncryptedGuests.UniqueName("metrics"), disk);
        _scenario.Present(alice, "luks-alice.1.key");
        var unlock = _scenario.Unlock();
        Assert.True(unlock.ExitCode == 0, unlock.StandardError + unlock.StandardOutput);
        Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(guest));
        return (guest, disk.Path);
    }

    private ToolResult Status(string format)
    {
        var result = LuksVirtCli.Run("status", "--config", _scenario.ConfigPath, "--state", _scenario.StatePath, format);
        Assert.True(result.ExitCode is 0 or 1, result.StandardError);
        return result;
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        // A bound on a wait for an outcome, not a timing assertion.
        for (var waited = TimeSpan.Zero; waited < Bound; waited += TimeSpan.FromMilliseconds(100))
        {
            if (condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("the condition did not come true within the bound");
    }
}
