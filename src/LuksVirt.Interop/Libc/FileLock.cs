using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using static LuksVirt.Interop.Interop.Libc.OpenFlags;

namespace LuksVirt.Interop.Libc;

/// <summary>
/// An exclusive flock(2) on a lock file: the kernel releases it when the process dies, unlike
/// the classic recipe's <c>ps | grep</c>. Dispose releases it. The lock file stays in place:
/// removing it would let a later run lock a new file while an earlier one still holds the old.
/// </summary>
public sealed class FileLock : IDisposable
{
    private const uint LockFileMode = 0b110_000_000;   // 0600
    private const uint LockDirectoryMode = 0b111_000_000;   // 0700
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LongestBackoff = TimeSpan.FromMilliseconds(250);

    private readonly SafeFileHandle _file;

    private FileLock(string path, SafeFileHandle file)
    {
        Path = path;
        _file = file;
    }

    /// <summary>Waits up to <paramref name="timeout"/> (<see cref="Timeout.InfiniteTimeSpan"/>: no limit); throws <see cref="TimeoutException"/> naming
    /// the lock file and its holder when another process keeps holding it, <see cref="OperationCanceledException"/>
    /// when <paramref name="cancellationToken"/> fires first. Creates the lock file (0600) and its
    /// directory (0700) when missing; a symbolic link at the lock path is refused.
    /// <paramref name="waiting"/> is called once, at once, when the lock is taken by another
    /// process, with that process (null when /proc/locks does not name it), so that a wait is
    /// never silent.</summary>
    public static FileLock Acquire(string path, TimeSpan timeout, Action<LockHolder?>? waiting, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        }

        cancellationToken.ThrowIfCancellationRequested();

        CreateDirectoryIfMissing(System.IO.Path.GetDirectoryName(path));
        var file = OpenLockFile(path);
        try
        {
            WaitForLock(file, path, timeout, waiting, cancellationToken);
            return new FileLock(path, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>As <see cref="Acquire(string, TimeSpan, Action{LockHolder}, CancellationToken)"/>, waiting silently.</summary>
    public static FileLock Acquire(string path, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Acquire(path, timeout, waiting: null, cancellationToken);

    public string Path { get; }

    /// <summary>Closing the only descriptor of the open file releases the lock.</summary>
    public void Dispose() => _file.Dispose();

    private static void WaitForLock(SafeFileHandle file, string path, TimeSpan timeout, Action<LockHolder?>? waiting, CancellationToken cancellationToken)
    {
        // flock(2) has no timed wait: a blocking LOCK_EX can only be interrupted by a signal, which
        // .NET cannot aim at one thread. So try LOCK_NB and sleep in between, the sleep doubling up
        // to a bound, so a short hold is noticed quickly and a long one costs a few wake-ups a second.
        var deadline = timeout == Timeout.InfiniteTimeSpan
            ? long.MaxValue
            : Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var backoff = FirstBackoff;
        var announced = false;
        while (!Interop.Libc.TryLockExclusive(file, path))
        {
            var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            if (remaining <= TimeSpan.Zero)
            {
                var holder = LockHolder.Find(file, path);
                throw new TimeoutException(
                    $"another luksvirt run holds {path}{(holder is null ? "" : $" ({holder})")}; wait for it to finish or stop it " +
                    "(the kernel releases the lock the moment that process exits)");
            }

            if (!announced && waiting is not null)
            {
                announced = true;
                waiting(LockHolder.Find(file, path));
            }

            // The wait handle wakes on cancellation at once instead of at the end of the sleep.
            _ = cancellationToken.WaitHandle.WaitOne(remaining < backoff ? remaining : backoff);
            cancellationToken.ThrowIfCancellationRequested();
            backoff = backoff * 2 < LongestBackoff ? backoff * 2 : LongestBackoff;
        }
    }

    private static SafeFileHandle OpenLockFile(string path)
    {
        // O_NOFOLLOW: a planted link must not make us create or lock a file elsewhere. O_NONBLOCK:
        // a FIFO planted at the path must not hang the open; fstat then refuses it.
        var file = Interop.Libc.Open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, LockFileMode);
        try
        {
            if ((Interop.Libc.FileStatus(file, path).Mode & Interop.Libc.S_IFMT) != Interop.Libc.S_IFREG)
            {
                throw new IOException($"{path} is not a regular file; it cannot serve as a lock file");
            }

            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static void CreateDirectoryIfMissing(string? directory)
    {
        if (string.IsNullOrEmpty(directory) || Interop.Libc.Mkdir(directory, LockDirectoryMode) == 0)
        {
            return;
        }

        var errno = Interop.Libc.LastErrno;
        if (errno != Interop.Libc.Errno.EEXIST)
        {
            throw Interop.Libc.CreateException(errno, "mkdir", directory);
        }
    }
}
