using System.Globalization;
using System.Text;
using LuksVirt.Interop.Libc;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Libc;

public sealed class UeventSocketTests : IDisposable
{
    private readonly TempDirectory _dir = new("uevent");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Attaching_and_detaching_a_loop_device_produce_change_events_for_it()
    {
        using var socket = UeventSocket.Open();
        var image = _dir.PathOf("small.img");
        using (var file = File.Create(image))
        {
            file.SetLength(1024 * 1024);
        }

        var device = ToolRunner.Run("losetup", "-f", "--show", image).EnsureSuccess("losetup").StandardOutput.Trim();
        var attached = true;
        try
        {
            var name = Path.GetFileName(device);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

            var onAttach = await ReceiveForDevice(socket, name, timeout.Token);
            ToolRunner.Run("losetup", "-d", device).EnsureSuccess("losetup -d");
            attached = false;
            var onDetach = await ReceiveForDevice(socket, name, timeout.Token);

            foreach (var received in new[] { onAttach, onDetach })
            {
                Assert.Equal("change", received.Action);
                Assert.Equal($"/devices/virtual/block/{name}", received.DevPath);
                Assert.Equal("block", received.Properties["SUBSYSTEM"]);
                Assert.Equal("change", received.Properties["ACTION"]);
            }

            Assert.True(long.Parse(onDetach.Properties["SEQNUM"], CultureInfo.InvariantCulture) > long.Parse(onAttach.Properties["SEQNUM"], CultureInfo.InvariantCulture));
        }
        finally
        {
            if (attached)
            {
                ToolRunner.Run("losetup", "-d", device).EnsureSuccess("losetup -d");
            }
        }
    }

    [Fact]
    public void Open_forces_a_receive_buffer_beyond_the_default_limit()
    {
        using var socket = UeventSocket.Open();
        var limit = int.Parse(File.ReadAllText("/proc/sys/net/core/rmem_max"), CultureInfo.InvariantCulture);
        Assert.True(limit < UeventSocket.ReceiveBufferBytes, "the test needs rmem_max below the size LuksVirt asks for");

        // SO_RCVBUF alone would be capped at rmem_max; SO_RCVBUFFORCE (root) is not. The kernel
        // reports twice the size set.
        Assert.Equal(2 * UeventSocket.ReceiveBufferBytes, socket.ReceiveBufferSize);
        Assert.True(socket.ReceiveBufferSize > 2 * limit);
    }

    [Fact]
    public async Task A_pending_receive_completes_with_the_uevent_sent_after_it_began()
    {
        using var socket = UeventSocket.Open();
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        // A synthetic uevent (written to a device's uevent file) carries a UUID of our choosing:
        // no other event, of this machine or of parallel tests, can answer this receive.
        var uuid = Guid.NewGuid().ToString();

        var receiving = ReceiveSynthetic(socket, uuid, guard.Token);
        Assert.False(receiving.IsCompleted, "the receive ended before its uevent was sent");
        await File.WriteAllTextAsync(SyntheticSource, $"change {uuid} LUKSVIRTTEST=pending");
        var received = await receiving;

        Assert.Equal("change", received.Action);
        Assert.Equal("/devices/virtual/mem/null", received.DevPath);
        Assert.Equal("pending", received.Properties["SYNTH_ARG_LUKSVIRTTEST"]);
    }

    [Fact]
    public async Task ReceiveAsync_that_would_wait_forever_ends_with_its_cancellation()
    {
        using var socket = UeventSocket.Open();
        using var cancellation = new CancellationTokenSource();
        var loopsEntered = new SemaphoreSlim(0);

        // Loop past events of parallel tests; only the cancellation may end this.
        var receiving = Task.Run(async () =>
        {
            while (true)
            {
                loopsEntered.Release();
                _ = await socket.ReceiveAsync(cancellation.Token);
            }
        });
        await loopsEntered.WaitAsync();
        await cancellation.CancelAsync();

        // The limit only keeps a broken build from hanging the run; the outcome is the exception.
        var ended = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receiving.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Equal(cancellation.Token, ended.CancellationToken);
    }

    [Fact]
    public void TryParse_reads_action_devpath_and_properties()
    {
        var message = Encoding.ASCII.GetBytes("add@/devices/pci0000:00/usb1/1-1/block/sdb\0ACTION=add\0DEVNAME=sdb\0DEVTYPE=disk\0EMPTY=\0SEQNUM=42\0");

        Assert.True(UeventSocket.TryParse(message, out var uevent));

        Assert.Equal("add", uevent.Action);
        Assert.Equal("/devices/pci0000:00/usb1/1-1/block/sdb", uevent.DevPath);
        Assert.Equal("sdb", uevent.Properties["DEVNAME"]);
        Assert.Equal("42", uevent.Properties["SEQNUM"]);
        Assert.Equal(string.Empty, uevent.Properties["EMPTY"]);
        Assert.Equal(5, uevent.Properties.Count);
    }

    [Fact]
    public void TryParse_ignores_libudev_messages_and_headerless_data()
    {
        var libudev = Encoding.ASCII.GetBytes("libudev\0\xfe\xed\xca\xfeACTION=add\0DEVNAME=sdb\0");

        Assert.False(UeventSocket.TryParse(libudev, out _));
        Assert.False(UeventSocket.TryParse("no header\0KEY=VALUE\0"u8, out _));
        Assert.False(UeventSocket.TryParse("@/devices\0"u8, out _));
        Assert.False(UeventSocket.TryParse([], out _));
    }

    // Other loop devices and /dev/kvm send events too (parallel tests): wait for this device's.
    private static async Task<Uevent> ReceiveForDevice(UeventSocket socket, string deviceName, CancellationToken cancellationToken)
    {
        while (true)
        {
            var received = await socket.ReceiveAsync(cancellationToken);
            if (received.Properties.TryGetValue("DEVNAME", out var name) && name == deviceName)
            {
                return received;
            }
        }
    }

    private const string SyntheticSource = "/sys/devices/virtual/mem/null/uevent";

    private static async Task<Uevent> ReceiveSynthetic(UeventSocket socket, string uuid, CancellationToken cancellationToken)
    {
        while (true)
        {
            var received = await socket.ReceiveAsync(cancellationToken);
            if (received.Properties.TryGetValue("SYNTH_UUID", out var sent) && sent == uuid)
            {
                return received;
            }
        }
    }
}
