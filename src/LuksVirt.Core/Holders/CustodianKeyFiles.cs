using LuksVirt.Core.Containers;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.Holders;

/// <summary>
/// The key files written to <c>--keys-out</c> for the holders to take away: one file per key,
/// named <c>luks-HOLDER.SLOT.key</c>, created 0600 with O_EXCL|O_NOFOLLOW (an existing file or
/// link is never overwritten), fsynced. <see cref="Prepare"/> checks every name before anything
/// is formatted, so a clash is refused while nothing has changed yet. The files are then created
/// through a descriptor of the directory, opened without following a link, and it must still be
/// the directory <see cref="Prepare"/> checked: a directory swapped for a link or another one
/// meanwhile gets nothing.
/// </summary>
internal sealed class CustodianKeyFiles
{
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = OwnerOnlyFile | UnixFileMode.UserExecute;

    /// <summary>The directory <see cref="Prepare"/> saw, or null when it did not exist yet.</summary>
    private readonly FileIdentity? _checkedDirectory;

    private readonly List<(string Name, FileIdentity Identity)> _written = [];
    private FileIdentity? _writtenDirectory;

    private CustodianKeyFiles(string directory, FileIdentity? checkedDirectory)
    {
        Directory = directory;
        _checkedDirectory = checkedDirectory;
    }

    /// <summary>Absolute, without trailing slashes.</summary>
    public string Directory { get; }

    /// <summary>Files written so far (full paths).</summary>
    public IReadOnlyList<string> Written => [.. _written.Select(w => Path.Combine(Directory, w.Name))];

    /// <summary>
    /// Refuses (<see cref="ContainerRefusedException"/>) a directory that is a symbolic link or not
    /// a directory, and any key file name that already exists there. A missing directory is
    /// created 0700 only later, by <see cref="WriteAll"/>.
    /// </summary>
    public static CustodianKeyFiles Prepare(string directory, IEnumerable<PlannedKey> keys)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(keys);
        // Without the trailing slash: with one, lstat and open follow a final symbolic link.
        var fullPath = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        var status = TryGetLinkStatus(fullPath);
        if (status is { Type: PosixFileType.SymbolicLink })
        {
            throw new ContainerRefusedException($"--keys-out {fullPath} is a symbolic link; name the real directory (links there are not followed)");
        }

        if (status is { } existing && existing.Type != PosixFileType.Directory)
        {
            throw new ContainerRefusedException($"--keys-out {fullPath} exists and is not a directory ({existing.Type})");
        }

        var clashes = keys.Select(k => Path.Combine(fullPath, k.FileName)).Where(p => TryGetLinkStatus(p) is not null).ToList();
        if (clashes.Count > 0)
        {
            throw new ContainerRefusedException(
                $"key file(s) already exist: {string.Join(", ", clashes)}; key files are never overwritten. Move them away or choose another --keys-out directory");
        }

        return new CustodianKeyFiles(fullPath, status?.Identity);
    }

    /// <summary>Writes every key. On a failure the files written so far are removed again and
    /// the error is rethrown.</summary>
    public void WriteAll(GeneratedKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (_checkedDirectory is null)
        {
            System.IO.Directory.CreateDirectory(Directory, OwnerOnlyDirectory);
        }

        using var directory = OpenCheckedDirectory(_checkedDirectory);
        _writtenDirectory = PosixFile.GetStatus(directory).Identity;
        try
        {
            foreach (var key in keys.Keys)
            {
                var identity = PosixFile.CreateExclusiveAt(directory, key.Plan.FileName, key.Secret.Span, OwnerOnlyFile);
                _written.Add((key.Plan.FileName, identity));
            }
        }
        catch
        {
            try
            {
                RemoveWritten(directory);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The error that stopped the writing is the one to report.
            }

            throw;
        }
    }

    /// <summary>Rollback: removes the files this object wrote (never others: each must still be
    /// the very file created, in the very directory), name first, then zeroed through the
    /// descriptor (<see cref="PosixFile.UnlinkThenZeroAt"/>).</summary>
    public void RemoveWritten()
    {
        if (_written.Count == 0)
        {
            return;
        }

        using var directory = OpenCheckedDirectory(_writtenDirectory);
        RemoveWritten(directory);
    }

    private void RemoveWritten(SafeFileHandle directory)
    {
        foreach (var (name, identity) in _written)
        {
            _ = PosixFile.UnlinkThenZeroAt(directory, name, identity, SecretBuffer.MaxKeyLength);
        }

        _written.Clear();
    }

    /// <summary>The directory, opened without following a link; when <paramref name="expected"/>
    /// is known it must be that very directory.</summary>
    private SafeFileHandle OpenCheckedDirectory(FileIdentity? expected)
    {
        var directory = PosixFile.OpenDirectoryNoFollow(Directory);
        if (expected is { } identity && PosixFile.GetStatus(directory).Identity != identity)
        {
            directory.Dispose();
            throw new IOException($"--keys-out {Directory} was replaced by another directory after it was checked; no key file is written to or removed from it");
        }

        return directory;
    }

    private static PosixFileStatus? TryGetLinkStatus(string path)
    {
        try
        {
            return PosixFile.GetLinkStatus(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }
}
