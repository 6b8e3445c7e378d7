using LuksVirt.Interop.Libc;

namespace LuksVirt.Core.Devices;

/// <summary>
/// Turns kernel uevents into "a key stick appeared" and "it went away". Listens on the uevent
/// netlink socket (no udevd needed; the wait costs no CPU), and scans sysfs once at start for
/// sticks already plugged in, again only when the kernel reports lost events. Every event is
/// checked against sysfs as it is now, and each disk's medium is remembered by its disk sequence
/// number, so the burst one stick causes (disk, partitions, change events) appears once, and a
/// medium swapped between two events still counts as removed and appeared. Not thread-safe:
/// one caller drives it.
/// </summary>
public sealed class BlockDeviceWatcher : IDisposable
{
    private readonly UeventSocket _socket;
    private readonly DeviceFilter _filter;
    private readonly SysfsBlockDevices _sysfs;
    private readonly Dictionary<string, BlockDisk> _present = new(StringComparer.Ordinal);

    private BlockDeviceWatcher(UeventSocket socket, DeviceFilter filter, SysfsBlockDevices sysfs)
    {
        _socket = socket;
        _filter = filter;
        _sysfs = sysfs;
    }

    /// <summary>Subscribes to uevents. Call <see cref="Rescan"/> next: the socket is open first,
    /// so a stick plugged in between is seen by one or the other (and reported once).</summary>
    public static BlockDeviceWatcher Open(DeviceFilter filter, SysfsBlockDevices? sysfs = null)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return new BlockDeviceWatcher(UeventSocket.Open(), filter, sysfs ?? new SysfsBlockDevices());
    }

    /// <summary>Disks with a medium that currently count as present.</summary>
    public IReadOnlyCollection<BlockDisk> Present => _present.Values;

    /// <summary>Compares sysfs with what is known: new matching media appear, vanished ones are removed.</summary>
    public IReadOnlyList<BlockDiskChange> Rescan()
    {
        var changes = new List<BlockDiskChange>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var disk in _sysfs.ListDisks())
        {
            seen.Add(disk.Name);
            changes.AddRange(Update(disk.Name, disk));
        }

        foreach (var gone in _present.Keys.Where(name => !seen.Contains(name)).ToList())
        {
            changes.AddRange(Update(gone, current: null));
        }

        return changes;
    }

    /// <summary>Waits for the next uevents that change the picture and returns what changed
    /// (never empty). A kernel queue overflow leads to a <see cref="Rescan"/>.</summary>
    public async Task<IReadOnlyList<BlockDiskChange>> NextChangesAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            IReadOnlyList<BlockDiskChange> changes;
            try
            {
                changes = Apply(await _socket.ReceiveAsync(cancellationToken).ConfigureAwait(false));
            }
            catch (UeventsLostException)
            {
                changes = Rescan();
            }

            if (changes.Count > 0)
            {
                return changes;
            }
        }
    }

    /// <summary>What one uevent changes; internal for tests that feed events by hand.</summary>
    internal IReadOnlyList<BlockDiskChange> Apply(Uevent uevent)
    {
        if (!uevent.Properties.TryGetValue("SUBSYSTEM", out var subsystem) || subsystem != "block" ||
            SysfsBlockDevices.DiskNameOf(uevent.DevPath) is not { } disk)
        {
            return [];
        }

        if (uevent.Action == "remove")
        {
            // A partition disappears when the table is re-read too; only the disk's own removal
            // ends the medium. sysfs has nothing left to ask at this point.
            return SysfsBlockDevices.IsDiskPath(uevent.DevPath) ? Update(disk, current: null) : [];
        }

        // add, change (media change, loop attach/detach, resize), online, bind...
        return Update(disk, _sysfs.TryReadDisk(disk));
    }

    public void Dispose() => _socket.Dispose();

    private List<BlockDiskChange> Update(string name, BlockDisk? current)
    {
        var changes = new List<BlockDiskChange>(2);
        if (_present.TryGetValue(name, out var known))
        {
            if (current is not null && current.HasMedium && current.IsSameMedium(known))
            {
                return changes;   // the same medium again: a duplicate event
            }

            _present.Remove(name);
            changes.Add(new BlockDiskChange(BlockDiskChangeKind.Removed, known));
        }

        if (current is not null && current.HasMedium && _filter.Matches(current))
        {
            _present[name] = current;
            changes.Add(new BlockDiskChange(BlockDiskChangeKind.Appeared, current));
        }

        return changes;
    }
}
