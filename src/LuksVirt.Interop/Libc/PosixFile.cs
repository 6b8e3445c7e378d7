using Microsoft.Win32.SafeHandles;
using static LuksVirt.Interop.Interop.Libc.OpenFlags;

namespace LuksVirt.Interop.Libc;

/// <summary>
/// Opening files an attacker may have prepared: never follow a symlink, never block on a FIFO
/// or device, then fstat the descriptor (not the path) to decide what it is. A symbolic link where
/// a file is expected throws <see cref="SymbolicLinkRefusedException"/>; other failures map errno
/// to <see cref="FileNotFoundException"/>, <see cref="UnauthorizedAccessException"/> or
/// <see cref="IOException"/> (HResult = errno).
/// </summary>
public static partial class PosixFile
{
    // O_NOCTTY: opening a terminal device must never make it our controlling terminal.
    private const int ReadNoFollow = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    private const int DirectoryNoFollow = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    private const int WriteNoFollow = O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

    /// <summary>open(path, O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC) + fstat.</summary>
    public static SafeFileHandle OpenNoFollow(string path, out PosixFileStatus status)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = Interop.Libc.Open(path, ReadNoFollow);
        return WithStatus(file, path, out status);
    }

    /// <summary>open(path, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC): a directory handle for *At calls.</summary>
    public static SafeFileHandle OpenDirectoryNoFollow(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Interop.Libc.Open(path, DirectoryNoFollow);
    }

    /// <summary>openat(dir, name, O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC) + fstat.
    /// <paramref name="name"/> must be a single path component.</summary>
    public static SafeFileHandle OpenAtNoFollow(SafeFileHandle directory, string name, out PosixFileStatus status)
    {
        ArgumentNullException.ThrowIfNull(directory);
        EnsureSingleComponent(name);
        var file = Interop.Libc.OpenAt(directory, name, ReadNoFollow, name);
        return WithStatus(file, name, out status);
    }

    /// <summary>Entry names of an open directory, without "." and "..", in directory order. Read
    /// through a fresh descriptor of the same directory, so the caller's handle is untouched and
    /// listing twice works.</summary>
    public static IReadOnlyList<string> ListDirectory(SafeFileHandle directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        return Interop.Libc.ReadDirectoryNames(directory, "directory");
    }

    /// <summary>unlinkat(dir, name, 0): removes the entry itself (a symbolic link is removed, its
    /// target untouched).</summary>
    public static void UnlinkAt(SafeFileHandle directory, string name)
    {
        ArgumentNullException.ThrowIfNull(directory);
        EnsureSingleComponent(name);
        if (Interop.Libc.UnlinkAt(directory, name, 0) != 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("unlinkat", name);
        }
    }

    /// <summary>fstat.</summary>
    public static PosixFileStatus GetStatus(SafeFileHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return ToStatus(Interop.Libc.FileStatus(file, "descriptor"));
    }

    /// <summary>lstat on a path (does not follow a final symlink).</summary>
    public static PosixFileStatus GetLinkStatus(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return ToStatus(Interop.Libc.LinkStatus(path));
    }

    /// <summary>fstatat(dir, name, AT_SYMLINK_NOFOLLOW): what an entry is, without opening it
    /// (opening a device node already talks to its driver).</summary>
    public static PosixFileStatus GetLinkStatusAt(SafeFileHandle directory, string name)
    {
        ArgumentNullException.ThrowIfNull(directory);
        EnsureSingleComponent(name);
        return ToStatus(Interop.Libc.LinkStatusAt(directory, name, name));
    }

    /// <summary>
    /// Creates a new file with O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC (an existing file or link is
    /// never overwritten: IOException with HResult EEXIST), sets exactly <paramref name="mode"/>
    /// whatever the umask, writes <paramref name="content"/> whole, then fsync. On any failure
    /// after creation the partial file is removed.
    /// </summary>
    public static void CreateExclusive(string path, ReadOnlySpan<byte> content, UnixFileMode mode)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var permissions = (uint)mode & 0xFFF;
        var file = Interop.Libc.Open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, permissions);
        try
        {
            using (file)
            {
                if (Interop.Libc.Fchmod(file, permissions) != 0)
                {
                    throw Interop.Libc.CreateExceptionForLastErrno("fchmod", path);
                }

                RandomAccess.Write(file, content, 0);
                Sync(file, path);
            }
        }
        catch
        {
            // O_EXCL made this file ours; a half-written one must not pass for a complete one.
            // A failed removal must not hide the error that matters.
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            throw;
        }
    }

    /// <summary>
    /// chown without following a final symlink: the path is opened O_PATH|O_NOFOLLOW and a
    /// symbolic link is refused (<see cref="SymbolicLinkRefusedException"/>) rather than changed
    /// itself, which is what lchown would do and never what a caller handing a device node to
    /// QEMU wants. Resolve a /dev/mapper link to its device node first.
    /// </summary>
    public static void ChangeOwner(string path, int uid, int gid)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(uid);
        ArgumentOutOfRangeException.ThrowIfNegative(gid);
        using var file = Interop.Libc.Open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if ((Interop.Libc.FileStatus(file, path).Mode & Interop.Libc.S_IFMT) == Interop.Libc.S_IFLNK)
        {
            throw new SymbolicLinkRefusedException(path);
        }

        if (Interop.Libc.FchownAt(file, string.Empty, (uint)uid, (uint)gid, Interop.Libc.AT_EMPTY_PATH) != 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("fchownat", path);
        }
    }

    /// <summary>getpwnam/getgrnam: numeric ids of a user and a group, or null when either is unknown.</summary>
    public static (int Uid, int Gid)? LookupUserAndGroup(string user, string group)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentException.ThrowIfNullOrEmpty(group);
        var uid = Interop.Libc.LookupUserId(user);
        var gid = Interop.Libc.LookupGroupId(group);
        return uid is null || gid is null ? null : ((int)uid.Value, (int)gid.Value);
    }

    private static SafeFileHandle WithStatus(SafeFileHandle file, string displayPath, out PosixFileStatus status)
    {
        try
        {
            status = ToStatus(Interop.Libc.FileStatus(file, displayPath));
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Zeros over the first <paramref name="length"/> bytes, then fsync.</summary>
    private static void WriteZeros(SafeFileHandle file, long length, string displayPath)
    {
        var zeros = new byte[Math.Min(length, 64 * 1024)];
        for (long offset = 0; offset < length; offset += zeros.Length)
        {
            RandomAccess.Write(file, zeros.AsSpan(0, (int)Math.Min(zeros.Length, length - offset)), offset);
        }

        Sync(file, displayPath);
    }

    private static void Sync(SafeFileHandle file, string displayPath)
    {
        if (Interop.Libc.Fsync(file) != 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("fsync", displayPath);
        }
    }

    // A name with '/' would make an *at call walk other directories, past the O_NOFOLLOW on the
    // final component; "." and ".." name directories that are not entries of this one.
    private static void EnsureSingleComponent(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new ArgumentException("expected a single directory entry name", nameof(name));
        }
    }

    private static PosixFileStatus ToStatus(in Interop.Libc.Statx s) => new(
        TypeOf(s.Mode),
        (long)s.Size,
        s.Mode,
        (int)s.Uid,
        (int)s.Gid,
        Interop.Libc.MakeDevice(s.DeviceMajor, s.DeviceMinor),
        s.Inode,
        Interop.Libc.MakeDevice(s.RawDeviceMajor, s.RawDeviceMinor),
        s.LinkCount,
        (s.Mask & Interop.Libc.STATX_BTIME) != 0 ? (s.BirthSeconds * 1_000_000_000) + s.BirthNanoseconds : 0);

    private static PosixFileType TypeOf(uint mode) => (mode & Interop.Libc.S_IFMT) switch
    {
        Interop.Libc.S_IFREG => PosixFileType.Regular,
        Interop.Libc.S_IFDIR => PosixFileType.Directory,
        Interop.Libc.S_IFLNK => PosixFileType.SymbolicLink,
        Interop.Libc.S_IFBLK => PosixFileType.BlockDevice,
        Interop.Libc.S_IFCHR => PosixFileType.CharacterDevice,
        Interop.Libc.S_IFIFO => PosixFileType.Fifo,
        Interop.Libc.S_IFSOCK => PosixFileType.Socket,
        _ => PosixFileType.Other,
    };
}

public enum PosixFileType
{
    Other,
    Regular,
    Directory,
    SymbolicLink,
    BlockDevice,
    CharacterDevice,
    Fifo,
    Socket,
}

/// <summary>What fstat/lstat reported. <see cref="Mode"/> is the whole st_mode (type and
/// permission bits); <see cref="Device"/> and <see cref="RawDevice"/> use stat(2)'s encoding;
/// <see cref="LinkCount"/> is st_nlink (names the inode has; 0 once the last one is gone);
/// <see cref="BirthTime"/> is statx's stx_btime in nanoseconds since 1970, 0 where the file system
/// does not record it.</summary>
public readonly record struct PosixFileStatus(PosixFileType Type, long Size, uint Mode, int Uid, int Gid, ulong Device, ulong Inode, ulong RawDevice, uint LinkCount, long BirthTime)
{
    /// <summary>The permission bits of <see cref="Mode"/> (including setuid, setgid, sticky).</summary>
    public UnixFileMode Permissions => (UnixFileMode)(Mode & 0xFFF);

    /// <summary>Which file this is, whatever its name: device, inode and birth time.</summary>
    public FileIdentity Identity => new(Device, Inode, BirthTime);
}

/// <summary>A file's identity: two names or descriptors with equal identities refer to the same
/// file. Device and inode alone are not enough over time: a file deleted and created anew often
/// gets the freed inode number back; its birth time (where the file system records one, as
/// tmpfs and ext4 do) tells the two apart.</summary>
public readonly record struct FileIdentity(ulong Device, ulong Inode, long BirthTime);
