using Microsoft.Win32.SafeHandles;
using static LuksVirt.Interop.Interop.Libc.OpenFlags;

namespace LuksVirt.Interop.Libc;

/// <summary>
/// The files a run is pointed at besides the keys (configuration, state, log), opened so that
/// no path can make the run wait or act elsewhere: what the path names is checked through an
/// O_PATH descriptor before the open (a FIFO's open waits for a writer, forever; a device's open already runs its
/// driver, and a watchdog arms itself), the open itself is O_NONBLOCK, and fstat of the
/// descriptor confirms a regular file (the path may have changed in between). Failures map errno
/// as <see cref="PosixFile"/> does; anything but a regular file is a
/// <see cref="NotRegularFileException"/>, a refused link a <see cref="SymbolicLinkRefusedException"/>.
/// </summary>
public static class RegularFile
{
    // asm-generic value, as the other flags in Interop.Libc.OpenFlags.
    private const int O_APPEND = 0x400;

    /// <summary>Opens an existing regular file for reading. <paramref name="followLinks"/> false:
    /// a symbolic link as the last component is refused, never followed.</summary>
    public static SafeFileHandle OpenForReading(string path, bool followLinks, out PosixFileStatus status)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var noFollow = followLinks ? 0 : O_NOFOLLOW;
        using (var pathOnly = Interop.Libc.Open(path, O_PATH | O_CLOEXEC | noFollow))
        {
            // O_PATH opens nothing: no driver runs, no FIFO waits; it only names the inode to stat.
            EnsureRegular(path, PosixFile.GetStatus(pathOnly));
        }

        var flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | noFollow;
        return Confirmed(Interop.Libc.Open(path, flags), path, out status);
    }

    /// <summary>
    /// Opens a regular file for appending, creating it with <paramref name="createMode"/> (less the
    /// umask) when absent. Never through a symbolic link at the last component (O_NOFOLLOW); the
    /// caller judges owner and mode from <paramref name="status"/>.
    /// </summary>
    public static SafeFileHandle OpenForAppending(string path, UnixFileMode createMode, out PosixFileStatus status)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            EnsureRegular(path, PosixFile.GetLinkStatus(path));
        }
        catch (FileNotFoundException)
        {
            // Absent: O_CREAT makes it below; O_NOFOLLOW still refuses a link planted meanwhile.
        }

        var flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
        return Confirmed(Interop.Libc.Open(path, flags, (uint)createMode & 0x1FF), path, out status);
    }

    /// <summary>The whole content when it is at most <paramref name="maxBytes"/> bytes, else null.
    /// Reads at most one byte more than the bound, whatever the size fstat reported.</summary>
    public static byte[]? ReadAtMost(SafeFileHandle file, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        var buffer = new byte[Math.Min(maxBytes + 1L, Math.Max(GetSizeHint(file), 4096L) + 1)];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length > maxBytes)
                {
                    return null;
                }

                Array.Resize(ref buffer, (int)Math.Min(maxBytes + 1L, buffer.Length * 2L));
            }

            var read = RandomAccess.Read(file, buffer.AsSpan(length), length);
            if (read == 0)
            {
                return length > maxBytes ? null : buffer[..length];
            }

            length += read;
        }
    }

    /// <summary>Appends <paramref name="bytes"/> whole with write(2) (O_APPEND: each call lands at the end).</summary>
    public static void Append(SafeFileHandle file, ReadOnlySpan<byte> bytes, string displayPath)
    {
        ArgumentNullException.ThrowIfNull(file);
        Interop.Libc.WriteAll(file, bytes, displayPath);
    }

    /// <summary>The user this process acts as (geteuid): the owner a file it trusts must have.</summary>
    public static int EffectiveUserId => (int)Interop.Libc.GetEffectiveUserId();

    private static long GetSizeHint(SafeFileHandle file) => PosixFile.GetStatus(file).Size;

    private static void EnsureRegular(string path, PosixFileStatus status)
    {
        if (status.Type == PosixFileType.SymbolicLink)
        {
            throw new SymbolicLinkRefusedException(path);
        }

        if (status.Type != PosixFileType.Regular)
        {
            throw new NotRegularFileException(path, status.Type);
        }
    }

    private static SafeFileHandle Confirmed(SafeFileHandle file, string path, out PosixFileStatus status)
    {
        try
        {
            status = PosixFile.GetStatus(file);
            if (status.Type != PosixFileType.Regular)
            {
                throw new NotRegularFileException(path, status.Type);
            }

            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }
}
