using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LuksVirt.Interop.Libc;

/// <summary>
/// A NETLINK_KOBJECT_UEVENT socket bound to the kernel's multicast group 1: the raw events udevd
/// itself reads, so no udevd is needed. The descriptor is wrapped in a .NET <see cref="Socket"/>,
/// so a receive waits in the runtime's epoll loop (no thread parked, no polling) and cancels cleanly.
/// </summary>
public sealed class UeventSocket : IDisposable
{
    // udevd asks for 128 MiB; a few MiB already hold thousands of events, plenty for the burst of
    // a USB hub with several sticks. The kernel charges only what queued messages use.
    internal const int ReceiveBufferBytes = 8 * 1024 * 1024;

    // A uevent is at most UEVENT_BUFFER_SIZE (2048) bytes of properties plus "ACTION@DEVPATH".
    private const int MessageBufferBytes = 8192;

    private const int SockaddrNetlinkSize = 12;
    private const int SockaddrPortIdOffset = 4;

    private readonly Socket _socket;
    private readonly byte[] _message = new byte[MessageBufferBytes];
    private readonly SocketAddress _sender = new(AddressFamily.Unknown, SocketAddress.GetMaximumAddressSize(AddressFamily.Unknown));
    private int _receiving;

    private UeventSocket(Socket socket) => _socket = socket;

    public static UeventSocket Open()
    {
        var fd = Interop.Libc.Socket(Interop.Libc.AF_NETLINK, Interop.Libc.SOCK_RAW | Interop.Libc.SOCK_CLOEXEC, Interop.Libc.NETLINK_KOBJECT_UEVENT);
        if (fd < 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT)", null);
        }

        var handle = new SafeSocketHandle(fd, ownsHandle: true);
        try
        {
            EnlargeReceiveBuffer(handle);
            var address = new Interop.Libc.SockaddrNetlink
            {
                Family = Interop.Libc.AF_NETLINK,
                PortId = 0,   // 0: the kernel assigns a unique port id
                Groups = Interop.Libc.UeventKernelGroup,
            };
            if (Interop.Libc.Bind(handle, address, SockaddrNetlinkSize) != 0)
            {
                throw Interop.Libc.CreateExceptionForLastErrno("bind(NETLINK_KOBJECT_UEVENT)", null);
            }

            return new UeventSocket(new Socket(handle));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Next kernel uevent; messages not from the kernel (sender port id != 0) and libudev's
    /// re-broadcasts are dropped. One receive at a time. Throws <see cref="UeventsLostException"/>
    /// when the kernel dropped events because the receive queue overflowed (rescan devices then);
    /// the socket stays usable.
    /// </summary>
    public async Task<Uevent> ReceiveAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _receiving, 1) != 0)
        {
            throw new InvalidOperationException("another ReceiveAsync on this socket is still running");
        }

        try
        {
            while (true)
            {
                int length;
                try
                {
                    // The previous receive shrank Size to the sender's address length; offer the whole buffer again.
                    _sender.Size = _sender.Buffer.Length;
                    length = await _socket.ReceiveFromAsync(_message, SocketFlags.None, _sender, cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.NoBufferSpaceAvailable)
                {
                    throw new UeventsLostException(e);
                }

                if (!IsFromKernel(_sender) || length >= _message.Length)
                {
                    // Not the kernel, or longer than any real uevent (so truncated): never trusted.
                    continue;
                }

                if (TryParse(_message.AsSpan(0, length), out var uevent))
                {
                    return uevent;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _receiving, 0);
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>SO_RCVBUF as the kernel reports it (twice the size asked for: it counts its bookkeeping).</summary>
    internal int ReceiveBufferSize => _socket.ReceiveBufferSize;

    /// <summary>Parses "ACTION@DEVPATH\0KEY=VALUE\0..."; false for libudev messages and anything
    /// without an ACTION@DEVPATH header.</summary>
    internal static bool TryParse(ReadOnlySpan<byte> message, [NotNullWhen(true)] out Uevent? uevent)
    {
        uevent = null;
        if (message.StartsWith("libudev"u8))
        {
            return false;
        }

        var headerEnd = message.IndexOf((byte)0);
        var header = headerEnd < 0 ? message : message[..headerEnd];
        var at = header.IndexOf((byte)'@');
        if (at <= 0 || at == header.Length - 1)
        {
            return false;
        }

        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        var rest = headerEnd < 0 ? [] : message[(headerEnd + 1)..];
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf((byte)0);
            var field = end < 0 ? rest : rest[..end];
            rest = end < 0 ? [] : rest[(end + 1)..];
            var equals = field.IndexOf((byte)'=');
            if (equals > 0)
            {
                properties[Encoding.UTF8.GetString(field[..equals])] = Encoding.UTF8.GetString(field[(equals + 1)..]);
            }
        }

        uevent = new Uevent(Encoding.UTF8.GetString(header[..at]), Encoding.UTF8.GetString(header[(at + 1)..]), properties);
        return true;
    }

    private static bool IsFromKernel(SocketAddress sender) =>
        sender.Size >= SockaddrNetlinkSize &&
        BinaryPrimitives.ReadUInt32LittleEndian(sender.Buffer.Span[SockaddrPortIdOffset..]) == 0;

    private static void EnlargeReceiveBuffer(SafeSocketHandle handle)
    {
        // SO_RCVBUFFORCE passes the rmem_max cap but needs CAP_NET_ADMIN; without it ask for what
        // SO_RCVBUF allows. A smaller buffer still works, it only overflows sooner.
        if (Interop.Libc.SetSocketOption(handle, Interop.Libc.SOL_SOCKET, Interop.Libc.SO_RCVBUFFORCE, ReceiveBufferBytes, sizeof(int)) != 0)
        {
            _ = Interop.Libc.SetSocketOption(handle, Interop.Libc.SOL_SOCKET, Interop.Libc.SO_RCVBUF, ReceiveBufferBytes, sizeof(int));
        }
    }
}

/// <summary>A kernel uevent: "ACTION@DEVPATH" then KEY=VALUE properties.</summary>
public sealed record Uevent(string Action, string DevPath, IReadOnlyDictionary<string, string> Properties);

/// <summary>The kernel dropped uevents (ENOBUFS): the receive queue overflowed. Devices that
/// appeared meanwhile must be found by a rescan.</summary>
public sealed class UeventsLostException : IOException
{
    public UeventsLostException(Exception innerException)
        : base("the kernel dropped uevents because the receive queue overflowed; rescan devices", innerException)
    {
    }
}
