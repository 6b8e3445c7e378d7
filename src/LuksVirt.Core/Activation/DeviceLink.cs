using LuksVirt.Interop.Libc;

namespace LuksVirt.Core.Activation;

/// <summary>What is at a dmcrypt disk's link path.</summary>
internal enum LinkState
{
    Missing,
    PointsAtDevice,
    PointsElsewhere,
    NotALink,
}

/// <summary>Test seam: called between the steps of <see cref="DeviceLink.Replace"/>, where a
/// concurrent change of the directory is a race the replacement must survive.</summary>
internal interface ILinkReplacementProbe
{
    void BeforeRecheck();

    void BeforeRename();
}

/// <summary>
/// The symbolic link a dmcrypt guest's domain XML names (the classic recipe's <c>target</c>),
/// pointing at /dev/mapper/luks-NAME. Read and changed only through a descriptor of its
/// directory, opened O_DIRECTORY|O_NOFOLLOW (the directory's own last component must not be a
/// link; the components above it are the administrator's, as in the configuration), with
/// fstatat, symlinkat, renameat, readlinkat and unlinkat on single entry names. Anything but a
/// symbolic link at the link path is never replaced or removed.
/// </summary>
internal static class DeviceLink
{
    /// <summary>Null when the link can be made (nothing there, or a symbolic link); otherwise
    /// why not, naming the fix.</summary>
    public static string? Refusal(string linkPath)
    {
        var (directoryPath, name) = Split(linkPath);
        SafeDirectory directory;
        try
        {
            directory = SafeDirectory.Open(directoryPath);
        }
        catch (FileNotFoundException)
        {
            return MissingDirectory(linkPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"the directory of the link {linkPath} cannot be opened ({e.Message})";
        }

        using (directory)
        {
            return RefusalAt(directory, name, linkPath);
        }
    }

    public static LinkState Inspect(string linkPath, string devicePath)
    {
        var (directoryPath, name) = Split(linkPath);
        try
        {
            using var directory = SafeDirectory.Open(directoryPath);
            if (PosixFile.GetLinkStatusAt(directory.Handle, name).Type != PosixFileType.SymbolicLink)
            {
                return LinkState.NotALink;
            }

            return IsTarget(PosixLink.ReadAt(directory.Handle, name), directory.Path, devicePath) ? LinkState.PointsAtDevice : LinkState.PointsElsewhere;
        }
        catch (FileNotFoundException)
        {
            return LinkState.Missing;
        }
    }

    /// <summary>
    /// Points <paramref name="linkPath"/> at <paramref name="devicePath"/> atomically: a new link
    /// under a temporary name, then renamed over the link path, which is checked (fstatat
    /// AT_SYMLINK_NOFOLLOW) right before the rename to be absent or a symbolic link. The
    /// temporary link is removed on every failure. Remaining race: another root process that
    /// puts a file or directory at the link path between that last check and the rename gets it
    /// replaced (a file) or makes the rename fail (a directory); renameat2's RENAME_EXCHANGE could
    /// close it, at the cost of more steps. Only root can write the link directories LuksVirt uses.
    /// </summary>
    public static void Replace(string linkPath, string devicePath, ILinkReplacementProbe? probe = null)
    {
        var (directoryPath, name) = Split(linkPath);
        using var directory = OpenForChange(directoryPath, linkPath);
        ThrowIfRefused(RefusalAt(directory, name, linkPath));
        var temporary = $".{name}.luksvirt-{Guid.NewGuid():N}";
        PosixLink.CreateAt(directory.Handle, temporary, devicePath);
        try
        {
            probe?.BeforeRecheck();
            ThrowIfRefused(RefusalAt(directory, name, linkPath));
            probe?.BeforeRename();
            PosixLink.RenameAt(directory.Handle, temporary, name);
        }
        catch (Exception failure)
        {
            RemoveTemporary(directory, temporary, failure);
            throw;
        }
    }

    /// <summary>Removes the link if it points at <paramref name="devicePath"/> (a link to
    /// anything else, and anything that is not a link, stays). True when it removed it.
    /// Remaining race: a link changed between readlinkat and unlinkat is removed anyway.</summary>
    public static bool RemoveIfPointsAt(string linkPath, string devicePath)
    {
        var (directoryPath, name) = Split(linkPath);
        try
        {
            using var directory = SafeDirectory.Open(directoryPath);
            if (PosixFile.GetLinkStatusAt(directory.Handle, name).Type != PosixFileType.SymbolicLink
                || !IsTarget(PosixLink.ReadAt(directory.Handle, name), directory.Path, devicePath))
            {
                return false;
            }

            PosixFile.UnlinkAt(directory.Handle, name);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    private static string? RefusalAt(SafeDirectory directory, string name, string linkPath)
    {
        PosixFileStatus status;
        try
        {
            status = PosixFile.GetLinkStatusAt(directory.Handle, name);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        return status.Type == PosixFileType.SymbolicLink
            ? null
            : $"{linkPath} exists and is not a symbolic link ({status.Type}); LuksVirt will not replace it. Move it away and run again";
    }

    private static SafeDirectory OpenForChange(string directoryPath, string linkPath)
    {
        try
        {
            return SafeDirectory.Open(directoryPath);
        }
        catch (FileNotFoundException e)
        {
            throw new ActivationException(MissingDirectory(linkPath), e);
        }
    }

    private static string MissingDirectory(string linkPath) =>
        $"the directory of the link {linkPath} does not exist; create it or change the link path";

    private static void ThrowIfRefused(string? refusal)
    {
        if (refusal is not null)
        {
            throw new ActivationException(refusal);
        }
    }

    private static void RemoveTemporary(SafeDirectory directory, string temporary, Exception failure)
    {
        try
        {
            PosixFile.UnlinkAt(directory.Handle, temporary);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ActivationException(
                $"{failure.Message}; removing the temporary link {Path.Combine(directory.Path, temporary)} failed too ({e.Message}): remove it by hand", failure);
        }
    }

    // A relative target is relative to the link's directory, as the kernel resolves it.
    private static bool IsTarget(string target, string directoryPath, string devicePath) =>
        string.Equals(Path.GetFullPath(target, directoryPath), devicePath, StringComparison.Ordinal);

    private static (string Directory, string Name) Split(string linkPath)
    {
        var full = Path.GetFullPath(linkPath);
        var name = Path.GetFileName(full);
        var directory = Path.GetDirectoryName(full);
        if (string.IsNullOrEmpty(name) || directory is null)
        {
            throw new ArgumentException($"'{linkPath}' names no directory entry", nameof(linkPath));
        }

        return (directory, name);
    }

    /// <summary>A directory opened O_DIRECTORY|O_NOFOLLOW, with its path for messages. A link
    /// directory that is itself a symbolic link (e.g. /var/lib/libvirt/images moved to a bigger
    /// disk) is the administrator's choice: it is resolved once, here, and everything after goes
    /// through the one descriptor, so a link swapped in later changes nothing.</summary>
    private sealed class SafeDirectory(Microsoft.Win32.SafeHandles.SafeFileHandle handle, string path) : IDisposable
    {
        public Microsoft.Win32.SafeHandles.SafeFileHandle Handle { get; } = handle;

        public string Path { get; } = path;

        public static SafeDirectory Open(string path)
        {
            var resolved = PosixFile.GetLinkStatus(path).Type == PosixFileType.SymbolicLink
                ? new DirectoryInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path
                : path;
            return new(PosixFile.OpenDirectoryNoFollow(resolved), resolved);
        }

        public void Dispose() => Handle.Dispose();
    }
}
