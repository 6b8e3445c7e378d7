using LuksVirt.Core.Devices;
using LuksVirt.Interop.Libc;

namespace LuksVirt.Tests.Service;

/// <summary>
/// Which disks count as key sticks, and how a burst of uevents becomes one "appeared": sysfs
/// trees laid out as the kernel does for a USB stick, a USB disk, a SATA disk, a card reader
/// and loop devices, with uevents fed by hand in the order the kernel sends them.
/// </summary>
public sealed class DeviceDetectionTests : IDisposable
{
    private readonly FakeSysfs _sysfs = new();

    public DeviceDetectionTests()
    {
        _sysfs.AddDisk(FakeSysfs.UsbHost, "sdb", sectors: 7_864_320, removable: true, diskSeq: 41, "sdb1");
        _sysfs.AddDisk(FakeSysfs.UsbHost, "sdc", sectors: 1_953_525_168, removable: false, diskSeq: 42, "sdc1", "sdc2");
        _sysfs.AddDisk(FakeSysfs.UsbHost, "sdd", sectors: 0, removable: true, diskSeq: 43);   // card reader, no card
        _sysfs.AddDisk(FakeSysfs.SataHost, "sda", sectors: 500_118_192, removable: false, diskSeq: 1, "sda1");
        _sysfs.AddDisk(FakeSysfs.Virtual, "loop0", sectors: 0, removable: false, diskSeq: 10);
        _sysfs.AddDisk(FakeSysfs.Virtual, "loop1", sectors: 2048, removable: false, diskSeq: 11);
    }

    public void Dispose() => _sysfs.Dispose();

    [Fact]
    public void Sysfs_lists_whole_disks_with_bus_removability_medium_and_partitions()
    {
        var disks = _sysfs.Devices.ListDisks().ToDictionary(d => d.Name);

        Assert.Equal(["loop0", "loop1", "sda", "sdb", "sdc", "sdd"], disks.Keys.Order(StringComparer.Ordinal));
        var sdb = disks["sdb"];
        Assert.Equal(("/dev/sdb", 7_864_320L * 512, 41UL, true, true), (sdb.DeviceNode, sdb.SizeBytes, sdb.DiskSeq!.Value, sdb.Removable, sdb.OnUsbBus));
        Assert.Equal(["sdb1"], sdb.PartitionNames);
        Assert.Equal(["sdc1", "sdc2"], disks["sdc"].PartitionNames);
        Assert.True(disks["sdc"].OnUsbBus);
        Assert.False(disks["sdc"].Removable);
        Assert.False(disks["sda"].OnUsbBus);
        Assert.False(disks["loop1"].OnUsbBus);
        Assert.False(disks["sdd"].HasMedium);
        Assert.Null(_sysfs.Devices.TryReadDisk("sdb1"));   // a partition is not a disk
        Assert.Null(_sysfs.Devices.TryReadDisk("../../etc"));
        Assert.Null(_sysfs.Devices.TryReadDisk("sdz"));
    }

    [Fact]
    public void The_default_filter_takes_removable_usb_disks_only()
    {
        var filter = new DeviceFilter();
        var matching = _sysfs.Devices.ListDisks().Where(filter.Matches).Select(d => d.Name);

        Assert.Equal(["sdb", "sdd"], matching);
    }

    [Theory]
    [InlineData("loop", new[] { "loop0", "loop1", "sdb", "sdd" })]
    [InlineData("loop1", new[] { "loop1", "sdb", "sdd" })]
    [InlineData("sd?2", new[] { "sdb", "sdc", "sdd" })]   // a partition's name selects its disk
    [InlineData("sda", new[] { "sda", "sdb", "sdd" })]
    public void Patterns_widen_the_filter(string pattern, string[] expected)
    {
        var filter = new DeviceFilter([pattern]);
        var matching = _sysfs.Devices.ListDisks().Where(filter.Matches).Select(d => d.Name);

        Assert.Equal(expected, matching);
    }

    [Theory]
    [InlineData("")]
    [InlineData("../sda")]
    [InlineData("sd[ab]")]
    [InlineData("/dev/sdb")]
    [InlineData("sdb;reboot")]
    public void Patterns_outside_the_allow_list_are_refused(string pattern)
    {
        Assert.NotNull(DeviceFilter.Explain(pattern));
        Assert.Throws<ArgumentException>(() => new DeviceFilter([pattern]));
    }

    [Theory]
    [InlineData("/devices/virtual/block/loop0", "loop0", true)]
    [InlineData("/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb", "sdb", true)]
    [InlineData("/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1", "sdb", false)]
    [InlineData("/devices/virtual/net/lo", null, false)]
    [InlineData("/devices/virtual/block/..", null, false)]
    public void A_uevent_path_names_its_disk(string devPath, string? disk, bool isDisk)
    {
        Assert.Equal(disk, SysfsBlockDevices.DiskNameOf(devPath));
        Assert.Equal(isDisk, SysfsBlockDevices.IsDiskPath(devPath));
    }

    [Fact]
    public void Sticks_present_at_start_appear_once_and_their_event_burst_adds_nothing()
    {
        using var watcher = BlockDeviceWatcher.Open(new DeviceFilter(), _sysfs.Devices);

        var initial = watcher.Rescan();

        var appeared = Assert.Single(initial);
        Assert.Equal((BlockDiskChangeKind.Appeared, "sdb", 41UL), (appeared.Kind, appeared.Disk.Name, appeared.Disk.DiskSeq));
        // What the kernel sends for one stick: disk, partition, then change events.
        Assert.Empty(watcher.Apply(Event("add", UsbPath("sdb"))));
        Assert.Empty(watcher.Apply(Event("add", UsbPath("sdb/sdb1"), "partition")));
        Assert.Empty(watcher.Apply(Event("change", UsbPath("sdb"))));
        Assert.Empty(watcher.Rescan());
    }

    [Fact]
    public void A_card_inserted_into_a_reader_appears_on_the_media_change_event()
    {
        using var watcher = BlockDeviceWatcher.Open(new DeviceFilter(), _sysfs.Devices);
        _ = watcher.Rescan();

        Assert.Empty(watcher.Apply(Event("change", UsbPath("sdd"))));   // no card yet
        _sysfs.SetMedium(FakeSysfs.UsbHost, "sdd", sectors: 62_333_952, diskSeq: 44);
        var changes = watcher.Apply(Event("change", UsbPath("sdd"), media: true));

        var appeared = Assert.Single(changes);
        Assert.Equal((BlockDiskChangeKind.Appeared, "sdd", 44UL), (appeared.Kind, appeared.Disk.Name, appeared.Disk.DiskSeq));
        Assert.Empty(watcher.Apply(Event("change", UsbPath("sdd"), media: true)));

        _sysfs.SetMedium(FakeSysfs.UsbHost, "sdd", sectors: 0, diskSeq: 45);   // card pulled
        var removed = Assert.Single(watcher.Apply(Event("change", UsbPath("sdd"), media: true)));
        Assert.Equal((BlockDiskChangeKind.Removed, 44UL), (removed.Kind, removed.Disk.DiskSeq));
    }

    [Fact]
    public void Unplugging_removes_the_disk_once_and_partition_removals_are_ignored()
    {
        using var watcher = BlockDeviceWatcher.Open(new DeviceFilter(), _sysfs.Devices);
        _ = watcher.Rescan();

        Assert.Empty(watcher.Apply(Event("remove", UsbPath("sdb/sdb1"), "partition")));
        _sysfs.Remove("sdb");
        var removed = Assert.Single(watcher.Apply(Event("remove", UsbPath("sdb"))));

        Assert.Equal((BlockDiskChangeKind.Removed, "sdb"), (removed.Kind, removed.Disk.Name));
        Assert.Empty(watcher.Apply(Event("remove", UsbPath("sdb"))));
        Assert.Empty(watcher.Present);
    }

    [Fact]
    public void A_medium_swapped_between_two_events_is_removed_and_appears_again()
    {
        using var watcher = BlockDeviceWatcher.Open(new DeviceFilter(["loop"]), _sysfs.Devices);
        Assert.Equal(["loop1", "sdb"], watcher.Rescan().Select(c => c.Disk.Name));

        // Detach and re-attach happened before the first change event was read: only the disk
        // sequence number tells.
        _sysfs.SetMedium(FakeSysfs.Virtual, "loop1", sectors: 4096, diskSeq: 13);
        var changes = watcher.Apply(Event("change", "/devices/virtual/block/loop1"));

        Assert.Equal([(BlockDiskChangeKind.Removed, 11UL), (BlockDiskChangeKind.Appeared, 13UL)], changes.Select(c => (c.Kind, c.Disk.DiskSeq!.Value)));
        Assert.Empty(watcher.Apply(Event("change", "/devices/virtual/block/loop1", media: true)));
    }

    [Fact]
    public void Lost_events_are_made_up_for_by_a_rescan()
    {
        using var watcher = BlockDeviceWatcher.Open(new DeviceFilter(["loop"]), _sysfs.Devices);
        _ = watcher.Rescan();

        _sysfs.Remove("sdb");
        _sysfs.SetMedium(FakeSysfs.Virtual, "loop0", sectors: 2048, diskSeq: 12);
        var changes = watcher.Rescan();

        Assert.Equal([(BlockDiskChangeKind.Appeared, "loop0"), (BlockDiskChangeKind.Removed, "sdb")], changes.Select(c => (c.Kind, c.Disk.Name)));
    }

    [Fact]
    public void Events_of_other_subsystems_and_disks_outside_the_filter_change_nothing()
    {
        using var watcher = BlockDeviceWatcher.Open(new DeviceFilter(), _sysfs.Devices);
        _ = watcher.Rescan();

        Assert.Empty(watcher.Apply(new Uevent("add", "/devices/virtual/net/tap0", new Dictionary<string, string> { ["SUBSYSTEM"] = "net" })));
        Assert.Empty(watcher.Apply(Event("change", "/devices/virtual/block/loop1")));
        Assert.Empty(watcher.Apply(Event("add", "/" + FakeSysfs.SataHost + "/block/sda")));
        Assert.Empty(watcher.Apply(Event("add", "/devices/virtual/block/../../../etc")));
    }

    private static string UsbPath(string tail) => "/" + FakeSysfs.UsbHost + "/block/" + tail;

    private static Uevent Event(string action, string devPath, string type = "disk", bool media = false)
    {
        var properties = new Dictionary<string, string>
        {
            ["ACTION"] = action,
            ["DEVPATH"] = devPath,
            ["SUBSYSTEM"] = "block",
            ["DEVTYPE"] = type,
        };
        if (media)
        {
            properties["DISK_MEDIA_CHANGE"] = "1";
        }

        return new Uevent(action, devPath, properties);
    }
}
