using LuksVirt.Core.Keys;

namespace LuksVirt.Core.KeySources.KeyDirectory;

/// <summary>Keys dropped into a directory (the classic /dev/shm/lukskeys, or /run/luksvirt/keys).</summary>
internal sealed class DirectoryKeyPresentation : IKeyPresentation
{
    private readonly KeyDirectoryReadResult _read;
    private bool _wiped;

    private DirectoryKeyPresentation(KeyDirectoryReadResult read) => _read = read;

    /// <summary>Reads every allow-listed key file; throws <see cref="KeyDirectoryException"/> when
    /// the directory itself is unusable (missing, a symlink, open to others, or below a directory
    /// open to others).</summary>
    public static DirectoryKeyPresentation Read(string directory) => new(KeyDirectoryReader.Read(directory));

    public KeySet Keys => _read.Keys;

    /// <summary>True when an entry meant as a key file was refused: it is reported, and left in
    /// place if removing it was unsafe, so the run must not end as a success.</summary>
    public bool LeftRefusedKeyFiles => _read.HasRejected;

    public KeysReport Report => new(
        _read.Keys.Count,
        _read.Rejected.Select(r => new RejectedKeyReport(r.Name, r.Reason)).ToList(),
        _read.Ignored,
        _wiped);

    /// <summary>Deletes every key file that was read and every allow-listed entry refused for its
    /// content or type: key material must not stay on the host whatever became of it (the classic
    /// recipe's last step). Entries refused as unsafe (hard links, foreign owners, writable by
    /// others, directories, names outside the allow-list) stay untouched and reported. Works through
    /// the descriptor the directory was read with (<see cref="KeyDirectoryReader.DeleteKeyFiles"/>).</summary>
    public void WipeSource()
    {
        KeyDirectoryReader.DeleteKeyFiles(_read);
        _wiped = true;
    }

    public void Dispose() => _read.Dispose();
}
