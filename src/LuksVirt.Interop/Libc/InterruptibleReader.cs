using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop.Libc;

/// <summary>
/// Reads from a descriptor that may stay silent for as long as a person takes to type (a
/// terminal), so that a <see cref="CancellationToken"/> (Ctrl-C, SIGTERM) ends the wait: poll on
/// the descriptor and on an eventfd the token's callback writes to, no thread left blocked in
/// read(2). Bytes go straight into the caller's span, so they land only where the caller keeps them.
/// </summary>
public sealed class InterruptibleReader : IDisposable
{
    private readonly SafeFileHandle _source;
    private readonly SafeFileHandle _wakeup;
    private readonly string _name;

    /// <param name="source">Read from; not owned (the caller closes it).</param>
    /// <param name="name">For error messages ("/dev/tty").</param>
    public InterruptibleReader(SafeFileHandle source, string name)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(name);
        var wakeup = Interop.Libc.EventFd(0, Interop.Libc.EFD_CLOEXEC);
        if (wakeup < 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("eventfd", null);
        }

        _source = source;
        _wakeup = new SafeFileHandle(wakeup, ownsHandle: true);
        _name = name;
    }

    /// <summary>
    /// One read(2) into <paramref name="target"/> once the descriptor has input (on a terminal in
    /// canonical mode, at most one line). Returns 0 at end of input (Ctrl-D on an empty line, a
    /// hang-up). Throws <see cref="OperationCanceledException"/> when
    /// <paramref name="cancellationToken"/> fires first.
    /// </summary>
    public unsafe int Read(Span<byte> target, CancellationToken cancellationToken)
    {
        using var wake = cancellationToken.Register(static state => ((InterruptibleReader)state!).Wake(), this);
        var descriptors = stackalloc Interop.Libc.PollDescriptor[2];
        var counter = stackalloc byte[8];
        var sourceAdded = false;
        var wakeupAdded = false;
        try
        {
            _source.DangerousAddRef(ref sourceAdded);
            _wakeup.DangerousAddRef(ref wakeupAdded);
            descriptors[0] = new Interop.Libc.PollDescriptor { Descriptor = (int)_source.DangerousGetHandle(), Events = Interop.Libc.POLLIN };
            descriptors[1] = new Interop.Libc.PollDescriptor { Descriptor = (int)_wakeup.DangerousGetHandle(), Events = Interop.Libc.POLLIN };
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (Interop.Libc.Poll(descriptors, 2, -1) < 0)
                {
                    var errno = Interop.Libc.LastErrno;
                    if (errno == Interop.Libc.Errno.EINTR)
                    {
                        continue;
                    }

                    throw Interop.Libc.CreateException(errno, "poll", _name);
                }

                cancellationToken.ThrowIfCancellationRequested();
                if (descriptors[1].ReturnedEvents != 0)
                {
                    // A wake-up left by an earlier token: consume it, or poll would never wait again.
                    _ = Interop.Libc.ReadRaw(_wakeup, counter, 8);
                }

                if (descriptors[0].ReturnedEvents == 0)
                {
                    continue;
                }

                fixed (byte* start = target)
                {
                    var read = Interop.Libc.ReadRaw(_source, start, (nuint)target.Length);
                    if (read >= 0)
                    {
                        return (int)read;
                    }

                    var errno = Interop.Libc.LastErrno;
                    if (errno is Interop.Libc.Errno.EINTR or Interop.Libc.Errno.EAGAIN)
                    {
                        continue;
                    }

                    // The terminal hung up (a closed SSH session, a pseudo-terminal's master gone): end of input.
                    return errno == Interop.Libc.EIO ? 0 : throw Interop.Libc.CreateException(errno, "read", _name);
                }
            }
        }
        finally
        {
            if (wakeupAdded)
            {
                _wakeup.DangerousRelease();
            }

            if (sourceAdded)
            {
                _source.DangerousRelease();
            }
        }
    }

    public void Dispose() => _wakeup.Dispose();

    private void Wake()
    {
        if (!_wakeup.IsClosed)
        {
            // eventfd takes an 8-byte counter increment.
            Interop.Libc.WriteAll(_wakeup, [1, 0, 0, 0, 0, 0, 0, 0], "eventfd");
        }
    }
}
