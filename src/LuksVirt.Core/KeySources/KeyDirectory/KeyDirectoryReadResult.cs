using LuksVirt.Core.Keys;
using LuksVirt.Interop.Libc;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.KeySources.KeyDirectory;

/// <summary>
/// What <see cref="KeyDirectoryReader.Read"/> found. <see cref="Keys"/> belong to the caller
/// (dispose them, or this result). Names in <see cref="Rejected"/> and <see cref="Ignored"/> are
/// already sanitised for logs. Holds the key directory open until disposed, so the clean-up acts
/// on the directory that was checked and read, not on whatever its path names by then.
/// </summary>
internal sealed class KeyDirectoryReadResult : IDisposable
{
    internal KeyDirectoryReadResult(
        string directory,
        SafeFileHandle directoryHandle,
        KeySet keys,
        IReadOnlyList<string> keyFileNames,
        IReadOnlyList<RejectedKeyFile> rejected,
        IReadOnlyList<string> ignored,
        IReadOnlyList<KeyDirectoryEntry> removable)
    {
        Directory = directory;
        DirectoryHandle = directoryHandle;
        Keys = keys;
        KeyFileNames = keyFileNames;
        Rejected = rejected;
        Ignored = ignored;
        Removable = removable;
    }

    /// <summary>The directory as opened: absolute, without trailing slashes.</summary>
    public string Directory { get; }

    public KeySet Keys { get; }

    /// <summary>The file each key came from, in the order of <see cref="Keys"/>.</summary>
    public IReadOnlyList<string> KeyFileNames { get; }

    /// <summary>Entries meant as key files that were refused, with the reason.</summary>
    public IReadOnlyList<RejectedKeyFile> Rejected { get; }

    /// <summary>True when an entry meant as a key file was refused: the operator must look at it
    /// (a run that reports this should not end with success).</summary>
    public bool HasRejected => Rejected.Count > 0;

    /// <summary>Entries that do not look like key files at all (sanitised names), and identical
    /// copies of a key that is used once.</summary>
    public IReadOnlyList<string> Ignored { get; }

    /// <summary>What <see cref="KeyDirectoryReader.DeleteKeyFiles"/> removes: every key file read
    /// and every allow-listed entry refused for its content or type, each with the identity it had.</summary>
    internal IReadOnlyList<KeyDirectoryEntry> Removable { get; }

    /// <summary>The key directory, open since it was checked.</summary>
    internal SafeFileHandle DirectoryHandle { get; }

    public void Dispose()
    {
        Keys.Dispose();
        DirectoryHandle.Dispose();
    }
}

/// <summary>An entry of the key directory to remove after use, and the file it was when looked at.</summary>
internal sealed record KeyDirectoryEntry(string Name, FileIdentity Identity);
