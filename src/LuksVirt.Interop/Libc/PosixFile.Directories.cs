using System.Globalization;
using Microsoft.Win32.SafeHandles;
using static LuksVirt.Interop.Interop.Libc.OpenFlags;

namespace LuksVirt.Interop.Libc;

/// <summary>Working inside a directory through its descriptor, so a directory checked once is
/// the one every later step acts on, whatever happens to its path meanwhile.</summary>
public static partial class PosixFile
{
    /// <summary>openat(dir, name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC): a subdirectory,
    /// never through a symbolic link (<see cref="SymbolicLinkRefusedException"/>).</summary>
    internal static SafeFileHandle OpenDirectoryAtNoFollow(SafeFileHandle directory, string name)
    {
        ArgumentNullException.ThrowIfNull(directory);
        EnsureSingleComponent(name);
        try
        {
            return Interop.Libc.OpenAt(directory, name, DirectoryNoFollow, name);
        }
        catch (IOException e) when (e.HResult == Interop.Libc.Errno.ENOTDIR &&
            ToStatus(Interop.Libc.LinkStatusAt(directory, name, name)).Type == PosixFileType.SymbolicLink)
        {
            // With O_DIRECTORY the kernel reports a final symlink as ENOTDIR, not ELOOP.
            throw new SymbolicLinkRefusedException(name);
        }
    }

    /// <summary>
    /// openat(dir, "..", O_PATH|O_DIRECTORY): the directory's real parent, the one the kernel
    /// itself goes up to (across a mount point too), not the one a path with symbolic links in it
    /// suggests. At "/" it is "/" again: compare <see cref="PosixFileStatus.Identity"/> to stop.
    /// </summary>
    public static SafeFileHandle OpenParentDirectory(SafeFileHandle directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        return Interop.Libc.OpenAt(directory, "..", O_PATH | O_DIRECTORY | O_CLOEXEC, "..");
    }

    /// <summary>The path the kernel knows for an open file (/proc/self/fd), for messages only:
    /// it can be stale or cut short, and it is never opened again. Null when /proc cannot tell.</summary>
    public static string? DescribeOpenPath(SafeFileHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            var descriptor = file.DangerousGetHandle().ToInt64().ToString(CultureInfo.InvariantCulture);
            return new FileInfo($"/proc/self/fd/{descriptor}").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// <see cref="CreateExclusive"/> inside an open directory: openat with
    /// O_CREAT|O_EXCL|O_NOFOLLOW (an existing file or link is never overwritten: IOException with
    /// HResult EEXIST), exactly <paramref name="mode"/>, the content written whole and fsynced.
    /// On any failure after creation the partial file is removed again. Returns the new file's
    /// identity, so a later clean-up can make sure it removes this file and no other.
    /// </summary>
    public static FileIdentity CreateExclusiveAt(SafeFileHandle directory, string name, ReadOnlySpan<byte> content, UnixFileMode mode)
    {
        ArgumentNullException.ThrowIfNull(directory);
        EnsureSingleComponent(name);
        var permissions = (uint)mode & 0xFFF;
        var file = Interop.Libc.OpenAt(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, name, permissions);
        using (file)
        {
            var identity = ToStatus(Interop.Libc.FileStatus(file, name)).Identity;
            try
            {
                if (Interop.Libc.Fchmod(file, permissions) != 0)
                {
                    throw Interop.Libc.CreateExceptionForLastErrno("fchmod", name);
                }

                RandomAccess.Write(file, content, 0);
                Sync(file, name);
                return identity;
            }
            catch
            {
                // O_EXCL made this file ours; a half-written one must not pass for a complete one.
                // A failed removal must not hide the error that matters.
                try
                {
                    _ = UnlinkThenZeroAt(directory, name, identity, content.Length);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                }

                throw;
            }
        }
    }
}
