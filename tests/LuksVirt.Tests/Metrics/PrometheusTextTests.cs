using LuksVirt.Core.Inventory;
using LuksVirt.Core.Metrics;
using LuksVirt.Core.State;
using LuksVirt.Core.Status;

namespace LuksVirt.Tests.Metrics;

public sealed class PrometheusTextTests
{
    [Fact]
    public void Label_values_escape_backslash_quote_and_line_feed()
    {
        var text = new PrometheusText().Gauge("x_test", "help").Sample(1, ("guest", "a\\b\"c\nd")).ToString();

        Assert.Contains("x_test{guest=\"a\\\\b\\\"c\\nd\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_family_has_its_help_and_type_once_before_its_samples()
    {
        var text = new PrometheusText().Gauge("x_one", "first\nline").Sample(1).Sample(2, ("a", "b")).Gauge("x_two", "second").Sample(0.5).ToString();

        Assert.Equal(
            "# HELP x_one first\\nline\n# TYPE x_one gauge\nx_one 1\nx_one{a=\"b\"} 2\n# HELP x_two second\n# TYPE x_two gauge\nx_two 0.5\n",
            text);
    }

    [Fact]
    public void A_sample_without_its_family_or_with_an_invalid_name_is_refused()
    {
        Assert.Throws<InvalidOperationException>(() => new PrometheusText().Sample(1));
        Assert.Throws<ArgumentException>(() => new PrometheusText().Gauge("1bad", "help"));
        Assert.Throws<ArgumentException>(() => new PrometheusText().Gauge("ok", "help").Sample(1, ("bad-label", "v")));
    }

    [Fact]
    public void Every_disk_has_one_sample_per_state_and_only_its_own_state_is_1()
    {
        var report = new StatusReport(
            [new GuestStatus("web", "Running", Autostart: false, Order: null,
                [new DiskStatus("/images/web.luks", DiskBackend.Native, DiskLockState.KeyInLibvirt, null, "alice", 1, null, new DiskSecretStatus(Guid.NewGuid(), true))])],
            [], [], new UnlockRunRecord(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000), AllGuestsRunning: false, GuestsRunning: 0, GuestsInScope: 1));

        var lines = StatusMetrics.Render(report).Split('\n');

        var diskLines = lines.Where(l => l.StartsWith("luksvirt_disk_state{", StringComparison.Ordinal)).ToList();
        Assert.Equal(Enum.GetValues<DiskLockState>().Length, diskLines.Count);
        Assert.Equal(["luksvirt_disk_state{guest=\"web\",container=\"/images/web.luks\",backend=\"native\",state=\"key_in_libvirt\"} 1"], diskLines.Where(l => l.EndsWith(" 1", StringComparison.Ordinal)));
        Assert.Contains("luksvirt_disks{state=\"key_in_libvirt\"} 1", lines);
        Assert.Contains("luksvirt_guests_running 1", lines);
        Assert.Contains("luksvirt_last_unlock_timestamp_seconds 1800000000", lines);
        Assert.Contains("luksvirt_last_unlock_success 0", lines);
    }

    [Fact]
    public void Without_a_recorded_run_there_is_no_last_unlock_series()
    {
        var text = StatusMetrics.Render(new StatusReport([], [], []));

        Assert.DoesNotContain("luksvirt_last_unlock", text, StringComparison.Ordinal);
        Assert.Contains("luksvirt_guests 0\n", text, StringComparison.Ordinal);
    }
}
