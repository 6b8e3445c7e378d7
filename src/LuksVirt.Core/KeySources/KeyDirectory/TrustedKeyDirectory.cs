using System.Globalization;
using LuksVirt.Interop.Libc;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.KeySources.KeyDirectory;

/// <summary>
/// Opens the key directory so that only root can have put, changed or swapped anything in it.
/// The path is made absolute and loses its trailing slashes (with one, the kernel follows a final
/// symbolic link even under O_NOFOLLOW); the last component is opened O_NOFOLLOW; the directory
/// must be owned by root and writable by nobody else. So must every directory above it up to "/",
/// walked through ".." from the opened descriptor: the real ancestors, wherever symbolic links on
/// the way led. Anyone who may write to an ancestor could rename the key directory away and put
/// another in its place. The one exception is a root-owned sticky directory (/dev/shm, /tmp):
/// there nobody can rename or remove an entry owned by someone else.
/// </summary>
internal static class TrustedKeyDirectory
{
    private const uint GroupOrOtherWritable = 0b000_010_010;   // 0022
    private const uint Sticky = 0b001_000_000_000;               // 01000

    // Far above any real path (PATH_MAX is 4096, so at most 2048 levels); only a bound for the loop.
    private const int MaxAncestors = 2048;

    /// <summary>The absolute form of <paramref name="directory"/> without trailing slashes, as
    /// opened and shown in messages and key sources.</summary>
    public static string Normalize(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
    }

    /// <summary>A descriptor of the checked directory <paramref name="directory"/> (already
    /// <see cref="Normalize"/>d); throws <see cref="KeyDirectoryException"/> naming the fix.</summary>
    public static SafeFileHandle Open(string directory)
    {
        SafeFileHandle handle;
        try
        {
            handle = PosixFile.OpenDirectoryNoFollow(directory);
        }
        catch (FileNotFoundException e)
        {
            throw new KeyDirectoryException(directory, $"key directory {directory} does not exist", e);
        }
        catch (SymbolicLinkRefusedException e)
        {
            throw new KeyDirectoryException(directory,
                $"key directory {directory} is a symbolic link, which is not followed; use the real directory (mkdir -m 0700 {directory})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyDirectoryException(directory, $"cannot open key directory {directory}: {e.Message}", e);
        }

        try
        {
            CheckKeyDirectory(directory, PosixFile.GetStatus(handle));
            CheckAncestors(directory, handle);
            return handle;
        }
        catch (KeyDirectoryException)
        {
            handle.Dispose();
            throw;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            handle.Dispose();
            throw new KeyDirectoryException(directory, $"cannot check key directory {directory}: {e.Message}", e);
        }
    }

    private static void CheckKeyDirectory(string directory, PosixFileStatus status)
    {
        if (status.Uid != 0)
        {
            throw new KeyDirectoryException(directory,
                string.Create(CultureInfo.InvariantCulture, $"key directory {directory} is owned by uid {status.Uid}, not root; fix: chown root:root {directory}"));
        }

        if ((status.Mode & GroupOrOtherWritable) != 0)
        {
            throw new KeyDirectoryException(directory,
                $"key directory {directory} is writable by group or others (mode {Octal(status.Mode)}); fix: chmod 0700 {directory}");
        }
    }

    private static void CheckAncestors(string directory, SafeFileHandle keyDirectory)
    {
        var current = PosixFile.OpenParentDirectory(keyDirectory);
        var childIdentity = PosixFile.GetStatus(keyDirectory).Identity;
        try
        {
            for (var level = 0; level < MaxAncestors; level++)
            {
                var status = PosixFile.GetStatus(current);
                if (status.Identity == childIdentity)
                {
                    return;   // ".." of "/" is "/" itself: the walk is done.
                }

                CheckAncestor(directory, current, status);
                var parent = PosixFile.OpenParentDirectory(current);
                current.Dispose();
                current = parent;
                childIdentity = status.Identity;
            }

            throw new KeyDirectoryException(directory, $"key directory {directory} lies more than {MaxAncestors} directories deep");
        }
        finally
        {
            current.Dispose();
        }
    }

    private static void CheckAncestor(string directory, SafeFileHandle ancestor, PosixFileStatus status)
    {
        var isRootsSticky = status.Uid == 0 && (status.Mode & Sticky) != 0;
        if (status.Uid == 0 && ((status.Mode & GroupOrOtherWritable) == 0 || isRootsSticky))
        {
            return;
        }

        var name = PosixFile.DescribeOpenPath(ancestor) ?? "a directory above it";
        var fault = status.Uid != 0
            ? string.Create(CultureInfo.InvariantCulture, $"owned by uid {status.Uid}, not root")
            : $"writable by group or others (mode {Octal(status.Mode)}) without being a root-owned sticky directory like /dev/shm";
        var fix = status.Uid != 0 ? $"chown root {name}" : $"chmod go-w {name}";
        throw new KeyDirectoryException(directory,
            $"key directory {directory} lies inside {name}, which is {fault}: whoever may write there could swap the key directory for another; fix: {fix}, or use a key directory under /run (mkdir -m 0700 /run/luksvirt/keys)");
    }

    private static string Octal(uint mode) => Convert.ToString(mode & 0xFFF, 8).PadLeft(4, '0');
}
