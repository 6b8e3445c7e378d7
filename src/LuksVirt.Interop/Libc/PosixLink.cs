using System.Text;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop.Libc;

/// <summary>
/// Symbolic links changed through a descriptor of their directory (symlinkat, renameat,
/// readlinkat): the directory is resolved once, when it is opened, and a link swapped in for one
/// of its path components later cannot redirect the change. Names are single entries of that
/// directory. Failures map errno as <see cref="PosixFile"/> does.
/// </summary>
public static class PosixLink
{
    // PATH_MAX: no link target the kernel accepts is longer.
    private const int MaxTargetBytes = 4096;

    /// <summary>symlinkat(target, dir, name); an existing entry is never replaced (EEXIST).</summary>
    public static void CreateAt(SafeFileHandle directory, string name, string target)
    {
        ArgumentNullException.ThrowIfNull(directory);
        EnsureSingleComponent(name);
        ArgumentException.ThrowIfNullOrEmpty(target);
        if (Interop.Libc.SymlinkAt(target, directory, name) != 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("symlinkat", name);
        }
    }

    /// <summary>renameat(dir, from, dir, to): atomic; replaces an existing <paramref name="to"/>
    /// (and never follows it when it is a symbolic link).</summary>
    public static void RenameAt(SafeFileHandle directory, string from, string to)
    {
        ArgumentNullException.ThrowIfNull(directory);
        EnsureSingleComponent(from);
        EnsureSingleComponent(to);
        if (Interop.Libc.RenameAt(directory, from, directory, to) != 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("renameat", to);
        }
    }

    /// <summary>readlinkat: the target of the link <paramref name="name"/>, as stored (not
    /// resolved). <see cref="FileNotFoundException"/> when there is no such entry, an
    /// <see cref="IOException"/> (EINVAL) when it is not a symbolic link.</summary>
    public static unsafe string ReadAt(SafeFileHandle directory, string name)
    {
        ArgumentNullException.ThrowIfNull(directory);
        EnsureSingleComponent(name);
        var buffer = new byte[MaxTargetBytes];
        nint length;
        fixed (byte* start = buffer)
        {
            length = Interop.Libc.ReadLinkAt(directory, name, start, (nuint)buffer.Length);
        }

        if (length < 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("readlinkat", name);
        }

        return Encoding.UTF8.GetString(buffer, 0, (int)length);
    }

    // As in PosixFile: a '/' would walk other directories; "." and ".." are not entries.
    private static void EnsureSingleComponent(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new ArgumentException("expected a single directory entry name", nameof(name));
        }
    }
}
