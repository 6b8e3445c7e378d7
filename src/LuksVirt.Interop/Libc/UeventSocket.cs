namespace LuksVirt.Libc;

/// <summary>
/// A NETLINK_KOBJECT_UEVENT socket bound to the kernel's multicast group 1: the raw events udevd
/// itself reads, so no udevd is needed. Receiving blocks in poll(2) until an event or cancellation.
/// </summary>
public sealed class UeventSocket : IDisposable
{
    public static UeventSocket Open() => throw new NotImplementedException();

    /// <summary>Next kernel uevent; messages not from the kernel (sender pid != 0) are dropped.</summary>
    public Task<Uevent> ReceiveAsync(CancellationToken cancellationToken) => throw new NotImplementedException();

    public void Dispose() => throw new NotImplementedException();
}

/// <summary>A kernel uevent: "ACTION@DEVPATH" then KEY=VALUE properties.</summary>
public sealed record Uevent(string Action, string DevPath, IReadOnlyDictionary<string, string> Properties);
