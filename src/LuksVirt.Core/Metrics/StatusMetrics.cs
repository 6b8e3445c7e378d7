using LuksVirt.Core.Status;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Metrics;

/// <summary>
/// <c>luksvirt status</c> as Prometheus metrics: the same <see cref="StatusReport"/> that
/// <c>status --json</c> prints, so both always agree. Nothing in it is secret: guest names,
/// container paths and states, as <c>status</c> shows them.
/// </summary>
public static class StatusMetrics
{
    /// <summary>The label value of each disk state (Prometheus style: lower case, underscores).</summary>
    public static string StateLabel(DiskLockState state) => state switch
    {
        DiskLockState.Locked => "locked",
        DiskLockState.Open => "open",
        DiskLockState.InUse => "in_use",
        DiskLockState.KeyInLibvirt => "key_in_libvirt",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    public static string Render(StatusReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var running = DomainState.Running.ToString();
        var disks = report.Guests.SelectMany(g => g.Disks.Select(d => (Guest: g.Name, Disk: d))).ToList();
        var text = new PrometheusText();

        text.Gauge("luksvirt_guests", "Guests with at least one encrypted disk.").Sample(report.Guests.Count);
        text.Gauge("luksvirt_guests_running", "Encrypted guests that are running.")
            .Sample(report.Guests.Count(g => g.State == running));

        text.Gauge("luksvirt_guest_running", "1 when the guest is running, else 0.");
        foreach (var guest in report.Guests)
        {
            text.Sample(guest.State == running, ("guest", guest.Name));
        }

        text.Gauge("luksvirt_guest_autostart", "1 when libvirt starts the guest at boot by itself (before its disks can be open).");
        foreach (var guest in report.Guests)
        {
            text.Sample(guest.Autostart, ("guest", guest.Name));
        }

        text.Gauge("luksvirt_disk_state", "1 for the state each encrypted disk is in, 0 for the others.");
        foreach (var (guest, disk) in disks)
        {
            foreach (var state in Enum.GetValues<DiskLockState>())
            {
                text.Sample(disk.State == state,
                    ("guest", guest), ("container", disk.Container), ("backend", disk.Backend.ToString().ToLowerInvariant()), ("state", StateLabel(state)));
            }
        }

        text.Gauge("luksvirt_disks", "Encrypted disks by state (locked: no key on the host).");
        foreach (var state in Enum.GetValues<DiskLockState>())
        {
            text.Sample(disks.Count(d => d.Disk.State == state), ("state", StateLabel(state)));
        }

        text.Gauge("luksvirt_keys_in_libvirt", "LuksVirt's libvirt secrets that hold a key now (a run under way, or left by an interrupted one).")
            .Sample(report.KeysInLibvirt.Count);
        text.Gauge("luksvirt_leftover_secrets", "Keys left in libvirt secrets by an interrupted run; the next unlock or watch start removes them.")
            .Sample(report.KeysInLibvirt.Count(k => k.Leftover));
        text.Gauge("luksvirt_problems", "Problems status reports (its exit code is 1 when there are any).").Sample(report.Problems.Count);

        if (report.LastUnlock is { } last)
        {
            text.Gauge("luksvirt_last_unlock_timestamp_seconds", "When the last unlock run ended (Unix time).")
                .Sample(last.FinishedAtUtc.ToUnixTimeMilliseconds() / 1000.0);
            text.Gauge("luksvirt_last_unlock_success", "1 when every guest in the last unlock run's scope ran at its end, else 0.")
                .Sample(last.AllGuestsRunning);
            text.Gauge("luksvirt_last_unlock_guests_running", "Guests running at the end of the last unlock run.").Sample(last.GuestsRunning);
            text.Gauge("luksvirt_last_unlock_guests_in_scope", "Guests in the last unlock run's scope.").Sample(last.GuestsInScope);
        }

        return text.ToString();
    }
}
