using LuksVirt.Core.Devices;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Service;

/// <summary>The watcher on real kernel uevents: attaching and detaching an image with losetup.</summary>
public sealed class LoopDeviceWatcherTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _directory = new("loopwatch");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Attach_appears_once_detach_removes_and_reattach_is_a_new_medium()
    {
        var image = _directory.PathOf("stick.img");
        using (var file = File.Create(image))
        {
            file.SetLength(1024 * 1024);
        }

        using var watcher = BlockDeviceWatcher.Open(new DeviceFilter(["loop"]));
        _ = watcher.Rescan();
        using var cancellation = new CancellationTokenSource(Timeout);

        BlockDisk first;
        using (var loop = LoopDevice.Attach(image))
        {
            (first, _) = await NextChangeOf(watcher, loop.Name, cancellation.Token);
            Assert.Equal((loop.Node, 1024L * 1024), (first.DeviceNode, first.SizeBytes));
            Assert.Contains(watcher.Present, d => d.Name == loop.Name);

            loop.Detach();
            var (gone, between) = await NextChangeOf(watcher, loop.Name, cancellation.Token, BlockDiskChangeKind.Removed);
            Assert.Empty(between);   // the attach's events made one "appeared", nothing more
            Assert.Equal(first.DiskSeq, gone.DiskSeq);
            Assert.DoesNotContain(watcher.Present, d => d.Name == loop.Name);
        }

        using var again = LoopDevice.Attach(image);
        var (second, _) = await NextChangeOf(watcher, again.Name, cancellation.Token);
        Assert.NotEqual(first.DiskSeq, second.DiskSeq);
    }

    // Other tests attach and detach loop devices in parallel (a name this test gets may have
    // been someone else's a moment ago): wait for this device's change of the expected kind.
    // Returns the device's change of that kind and its changes of other kinds before it.
    private static async Task<(BlockDisk Disk, List<BlockDiskChange> Before)> NextChangeOf(BlockDeviceWatcher watcher, string name, CancellationToken cancellationToken, BlockDiskChangeKind kind = BlockDiskChangeKind.Appeared)
    {
        var before = new List<BlockDiskChange>();
        while (true)
        {
            foreach (var change in (await watcher.NextChangesAsync(cancellationToken)).Where(c => c.Disk.Name == name))
            {
                if (change.Kind == kind)
                {
                    return (change.Disk, before);
                }

                before.Add(change);
            }
        }
    }
}
