using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Libc;

/// <summary>
/// Opening files an attacker may have prepared: never follow a symlink, never block on a FIFO
/// or device, then fstat the descriptor (not the path) to decide what it is.
/// </summary>
public static class PosixFile
{
    /// <summary>open(path, O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC) + fstat.</summary>
    public static SafeFileHandle OpenNoFollow(string path, out PosixFileStatus status) => throw new NotImplementedException();

    /// <summary>open(path, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC): a directory handle for *At calls.</summary>
    public static SafeFileHandle OpenDirectoryNoFollow(string path) => throw new NotImplementedException();

    /// <summary>openat(dir, name, O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC) + fstat.</summary>
    public static SafeFileHandle OpenAtNoFollow(SafeFileHandle directory, string name, out PosixFileStatus status) => throw new NotImplementedException();

    /// <summary>Entry names of an open directory (fdopendir on a dup), without "." and "..".</summary>
    public static IReadOnlyList<string> ListDirectory(SafeFileHandle directory) => throw new NotImplementedException();

    /// <summary>unlinkat(dir, name, 0).</summary>
    public static void UnlinkAt(SafeFileHandle directory, string name) => throw new NotImplementedException();

    /// <summary>fstat.</summary>
    public static PosixFileStatus GetStatus(SafeFileHandle file) => throw new NotImplementedException();

    /// <summary>lstat on a path (does not follow a final symlink).</summary>
    public static PosixFileStatus GetLinkStatus(string path) => throw new NotImplementedException();

    /// <summary>Creates a new file 0600 with O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC and writes it whole, then fsync.</summary>
    public static void CreateExclusive(string path, ReadOnlySpan<byte> content, UnixFileMode mode) => throw new NotImplementedException();

    /// <summary>chown without following a final symlink (lchown is not wanted for devices: fchownat with 0).</summary>
    public static void ChangeOwner(string path, int uid, int gid) => throw new NotImplementedException();

    /// <summary>getpwnam/getgrnam: numeric ids of a user and a group, or null when unknown.</summary>
    public static (int Uid, int Gid)? LookupUserAndGroup(string user, string group) => throw new NotImplementedException();
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

/// <summary>What fstat/lstat reported.</summary>
public readonly record struct PosixFileStatus(PosixFileType Type, long Size, uint Mode, int Uid, int Gid, ulong Device, ulong Inode, ulong RawDevice);
