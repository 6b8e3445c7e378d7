using System.Globalization;
using LuksVirt.Core.Devices;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Service;

/// <summary>
/// A small sysfs tree laid out as the kernel lays out /sys: devices under /sys/devices, the
/// block class as relative symbolic links, "subsystem" links naming the bus. Lets tests show
/// USB sticks, SATA disks and card readers that this machine does not have.
/// </summary>
public sealed class FakeSysfs : IDisposable
{
    public const string UsbHost = "devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0";
    public const string SataHost = "devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0";
    public const string Virtual = "devices/virtual";

    private readonly TempDirectory _directory = new("sysfs");

    public FakeSysfs()
    {
        Directory.CreateDirectory(PathOf("class/block"));
        // The USB device nodes and the PCI controller carry subsystem links, as in the kernel.
        Subsystem("devices/pci0000:00/0000:00:14.0", "pci");
        Subsystem("devices/pci0000:00/0000:00:14.0/usb1", "usb");
        Subsystem("devices/pci0000:00/0000:00:14.0/usb1/1-1", "usb");
        Subsystem("devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0", "usb");
        Subsystem(UsbHost, "scsi");
        Subsystem("devices/pci0000:00/0000:00:17.0", "pci");
        Subsystem(SataHost, "scsi");
    }

    public string Root => _directory.Path;

    public SysfsBlockDevices Devices => new(Root);

    /// <summary>Adds a whole disk below <paramref name="parent"/> with the given attributes.</summary>
    public void AddDisk(string parent, string name, long sectors, bool removable, ulong diskSeq, params string[] partitions)
    {
        var disk = $"{parent}/block/{name}";
        Write(disk, "size", sectors);
        Write(disk, "removable", removable ? 1 : 0);
        Write(disk, "diskseq", diskSeq);
        File.WriteAllText(PathOf($"{disk}/uevent"), $"MAJOR=8\nMINOR=16\nDEVNAME={name}\nDEVTYPE=disk\nDISKSEQ={diskSeq}\n");
        Subsystem(disk, "block");
        File.CreateSymbolicLink(PathOf($"class/block/{name}"), $"../../{disk}");
        foreach (var partition in partitions)
        {
            var path = $"{disk}/{partition}";
            Write(path, "partition", 1);
            Write(path, "size", sectors / 2);
            File.WriteAllText(PathOf($"{path}/uevent"), $"DEVNAME={partition}\nDEVTYPE=partition\n");
            File.CreateSymbolicLink(PathOf($"class/block/{partition}"), $"../../{path}");
        }
    }

    /// <summary>What the kernel changes on a media change: the size, and a new disk sequence number.</summary>
    public void SetMedium(string parent, string name, long sectors, ulong diskSeq)
    {
        Write($"{parent}/block/{name}", "size", sectors);
        Write($"{parent}/block/{name}", "diskseq", diskSeq);
    }

    /// <summary>The disk leaves sysfs, as on unplugging.</summary>
    public void Remove(string name)
    {
        var link = PathOf($"class/block/{name}");
        var target = Directory.ResolveLinkTarget(link, returnFinalTarget: true)!.FullName;
        File.Delete(link);
        Directory.Delete(target, recursive: true);
    }

    public void Dispose() => _directory.Dispose();

    private string PathOf(string relative) => Path.Combine(Root, relative);

    private void Write(string directory, string attribute, long value)
    {
        Directory.CreateDirectory(PathOf(directory));
        File.WriteAllText(PathOf($"{directory}/{attribute}"), value.ToString(CultureInfo.InvariantCulture) + "\n");
    }

    private void Write(string directory, string attribute, ulong value) => Write(directory, attribute, (long)value);

    private void Subsystem(string directory, string bus)
    {
        Directory.CreateDirectory(PathOf(directory));
        var depth = directory.Count(c => c == '/') + 1;
        var up = string.Concat(Enumerable.Repeat("../", depth));
        File.CreateSymbolicLink(PathOf($"{directory}/subsystem"), $"{up}{(bus == "block" ? "class" : "bus")}/{bus}");
    }
}
