using LuksVirt.Libc;

namespace LuksVirt.Core.Containers;

/// <summary>
/// The key files written to <c>--keys-out</c> for the holders to take away: one file per key,
/// named <c>luks-HOLDER.SLOT.key</c>, created 0600 with O_EXCL (an existing file or link is never
/// overwritten), fsynced. <see cref="Prepare"/> checks every name before anything is formatted,
/// so a clash is refused while nothing has changed yet.
/// </summary>
public sealed class CustodianKeyFiles
{
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = OwnerOnlyFile | UnixFileMode.UserExecute;

    private readonly List<string> _written = [];

    private CustodianKeyFiles(string directory) => Directory = directory;

    public string Directory { get; }

    /// <summary>Files written so far (full paths).</summary>
    public IReadOnlyList<string> Written => _written;

    /// <summary>
    /// Refuses (<see cref="ContainerRefusedException"/>) a directory that is a symbolic link or not
    /// a directory, and any key file name that already exists there. A missing directory is
    /// created 0700 only later, by <see cref="WriteAll"/>.
    /// </summary>
    public static CustodianKeyFiles Prepare(string directory, IEnumerable<PlannedKey> keys)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(keys);
        var fullPath = Path.GetFullPath(directory);
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

        return new CustodianKeyFiles(fullPath);
    }

    /// <summary>Writes every key. On a failure the files written so far are removed again and
    /// the error is rethrown.</summary>
    public void WriteAll(GeneratedKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (TryGetLinkStatus(Directory) is null)
        {
            System.IO.Directory.CreateDirectory(Directory, OwnerOnlyDirectory);
        }

        try
        {
            foreach (var key in keys.Keys)
            {
                var path = Path.Combine(Directory, key.Plan.FileName);
                PosixFile.CreateExclusive(path, key.Secret.Span, OwnerOnlyFile);
                _written.Add(path);
            }
        }
        catch
        {
            RemoveWritten();
            throw;
        }
    }

    /// <summary>Rollback: zeroes and removes the files this object wrote (never others).</summary>
    public void RemoveWritten()
    {
        using var directory = PosixFile.OpenDirectoryNoFollow(Directory);
        foreach (var path in _written)
        {
            var name = Path.GetFileName(path);
            try
            {
                PosixFile.OverwriteWithZerosAt(directory, name);
                PosixFile.UnlinkAt(directory, name);
            }
            catch (FileNotFoundException)
            {
            }
        }

        _written.Clear();
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
