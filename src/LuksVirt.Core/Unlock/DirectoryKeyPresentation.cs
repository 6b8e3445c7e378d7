using LuksVirt.Core.Keys;

namespace LuksVirt.Core.Unlock;

/// <summary>Keys dropped into a directory (the classic /dev/shm/lukskeys, or /run/luksvirt/keys).</summary>
public sealed class DirectoryKeyPresentation : IKeyPresentation
{
    private readonly KeyDirectoryReadResult _read;
    private bool _wiped;

    private DirectoryKeyPresentation(KeyDirectoryReadResult read) => _read = read;

    /// <summary>Reads every allow-listed key file; throws <see cref="KeyDirectoryException"/> when
    /// the directory itself is unusable (missing, a symlink, writable by others).</summary>
    public static DirectoryKeyPresentation Read(string directory) => new(KeyDirectorySource.Read(directory));

    public KeySet Keys => _read.Keys;

    public KeysReport Report => new(
        _read.Keys.Count,
        _read.Rejected.Select(r => new RejectedKeyReport(r.Name, r.Reason)).ToList(),
        _read.Ignored,
        _wiped);

    /// <summary>Deletes every key file that was presented, accepted or rejected for its content or
    /// type: key material must not stay on the host whatever became of it (the classic recipe's
    /// last step). Only allow-listed names are touched, and links are removed, never followed.</summary>
    public void WipeSource()
    {
        var rejectedKeyFiles = _read.Rejected.Select(r => r.Name).Where(n => KeyFileName.TryParse(n, out _, out _));
        KeyDirectorySource.DeleteKeyFiles(_read.Directory, _read.KeyFileNames.Concat(rejectedKeyFiles));
        _wiped = true;
    }

    public void Dispose() => _read.Dispose();
}
