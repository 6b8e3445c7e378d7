using System.Net.Sockets;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Interop.Libc;

/// <summary>
/// An AF_UNIX datagram socket bound to a path, with SO_PASSCRED so the kernel attaches every
/// sender's credentials (its real uid, which the sender cannot forge): the reply socket of
/// systemd's password-agent protocol. Waiting happens in the runtime's epoll loop (a zero-byte
/// peek, cancellable); the datagram itself is then received with recvmsg straight into a
/// <see cref="SecretBuffer"/>, so its bytes never pass through managed memory. Disposing closes
/// the socket and removes its path.
/// </summary>
public sealed class CredentialedDatagramSocket : IDisposable
{
    /// <summary>Credentials from a sender the kernel did not vouch for: never trusted.</summary>
    public const uint UnknownSender = uint.MaxValue;

    // CMSG_SPACE(sizeof(struct ucred)): a cmsghdr and a ucred, each padded to 8 bytes.
    private const int ControlBufferBytes = 32;

    private readonly Socket _socket;
    private int _disposed;

    private CredentialedDatagramSocket(Socket socket, string path)
    {
        _socket = socket;
        Path = path;
    }

    public string Path { get; }

    /// <summary>Creates the socket and binds it to <paramref name="path"/> (which must not exist),
    /// then sets the socket file's mode to <paramref name="mode"/>. Between bind and chmod the
    /// file has the umask's mode: receivers check the sender's uid, not the file mode.</summary>
    public static CredentialedDatagramSocket Bind(string path, UnixFileMode mode)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        var bound = false;
        try
        {
            // Before bind, so that no datagram can arrive without its sender's credentials.
            if (Interop.Libc.SetSocketOption(socket.SafeHandle, Interop.Libc.SOL_SOCKET, Interop.Libc.SO_PASSCRED, 1, sizeof(int)) != 0)
            {
                throw Interop.Libc.CreateExceptionForLastErrno("setsockopt(SO_PASSCRED)", path);
            }

            socket.Bind(new UnixDomainSocketEndPoint(path));
            bound = true;
            File.SetUnixFileMode(path, mode);
            return new CredentialedDatagramSocket(socket, path);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"{path}: cannot bind a datagram socket ({e.Message})", e);
        }
        catch
        {
            socket.Dispose();
            if (bound)
            {
                File.Delete(path);
            }

            throw;
        }
    }

    /// <summary>Completes when a datagram is queued (it stays queued for <see cref="ReceiveSecret"/>).</summary>
    public async Task WaitForDatagramAsync(CancellationToken cancellationToken) =>
        // A zero-byte MSG_PEEK reports a queued datagram without consuming or copying it.
        _ = await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.Peek, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Receives the next queued datagram whole into a new <see cref="SecretBuffer"/> sized by
    /// FIONREAD, with its sender's uid (<see cref="UnknownSender"/> when the datagram came without
    /// credentials). Returns null when no datagram is queued.
    /// </summary>
    public unsafe SecretBuffer? ReceiveSecret(out uint senderUserId)
    {
        senderUserId = UnknownSender;
        var handle = _socket.SafeHandle;
        if (Interop.Libc.IoctlInt(handle, Interop.Libc.FIONREAD, out var size) != 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("ioctl(FIONREAD)", Path);
        }

        // One byte more than announced, so a datagram that is not the one measured shows as truncated.
        using var buffer = SecretBuffer.Allocate(Math.Max(size, 0) + 1);
        var control = stackalloc byte[ControlBufferBytes];
        new Span<byte>(control, ControlBufferBytes).Clear();
        nint received;
        int flags;
        fixed (byte* start = buffer.WritableSpan)
        {
            var vector = new Interop.Libc.IoVector { Base = start, Length = (nuint)buffer.Length };
            var message = new Interop.Libc.MessageHeader
            {
                Vectors = &vector,
                VectorCount = 1,
                Control = control,
                ControlLength = ControlBufferBytes,
            };
            received = Interop.Libc.ReceiveMessage(handle, &message, Interop.Libc.MSG_DONTWAIT | Interop.Libc.MSG_CMSG_CLOEXEC);
            flags = message.Flags;
        }

        if (received < 0)
        {
            var errno = Interop.Libc.LastErrno;
            return errno is Interop.Libc.Errno.EAGAIN or Interop.Libc.Errno.EINTR
                ? null
                : throw Interop.Libc.CreateException(errno, "recvmsg", Path);
        }

        if ((flags & Interop.Libc.MSG_TRUNC) != 0 || received >= buffer.Length)
        {
            throw new InvalidDataException($"a datagram on {Path} was larger than announced; it was dropped");
        }

        senderUserId = ReadSenderUserId(control);
        return SecretBuffer.CopyOf(buffer.Span[..(int)received]);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _socket.Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
            // The directory is gone already: nothing left to clean.
        }
    }

    private static unsafe uint ReadSenderUserId(byte* control)
    {
        var header = (Interop.Libc.ControlMessageHeader*)control;
        var expectedLength = (nuint)(sizeof(Interop.Libc.ControlMessageHeader) + sizeof(Interop.Libc.UnixCredentials));
        if (header->Level != Interop.Libc.SOL_SOCKET || header->Type != Interop.Libc.SCM_CREDENTIALS || header->Length < expectedLength)
        {
            return UnknownSender;
        }

        return ((Interop.Libc.UnixCredentials*)(control + sizeof(Interop.Libc.ControlMessageHeader)))->UserId;
    }
}
