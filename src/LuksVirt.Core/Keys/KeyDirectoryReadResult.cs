namespace LuksVirt.Core.Keys;

/// <summary>
/// What <see cref="KeyDirectorySource.Read"/> found. <see cref="Keys"/> belong to the caller
/// (dispose them, or this result). Names in <see cref="Rejected"/> and <see cref="Ignored"/> are
/// already sanitised for logs.
/// </summary>
public sealed class KeyDirectoryReadResult(string directory, KeySet keys, IReadOnlyList<string> keyFileNames, IReadOnlyList<RejectedKeyFile> rejected, IReadOnlyList<string> ignored) : IDisposable
{
    public string Directory { get; } = directory;

    public KeySet Keys { get; } = keys;

    /// <summary>The file each key came from, in the order of <see cref="Keys"/>: what
    /// <see cref="KeyDirectorySource.DeleteKeyFiles"/> wipes after an unlock.</summary>
    public IReadOnlyList<string> KeyFileNames { get; } = keyFileNames;

    /// <summary>Entries meant as key files that were refused, with the reason.</summary>
    public IReadOnlyList<RejectedKeyFile> Rejected { get; } = rejected;

    /// <summary>Entries that do not look like key files at all (sanitised names).</summary>
    public IReadOnlyList<string> Ignored { get; } = ignored;

    public void Dispose() => Keys.Dispose();
}

/// <summary>A refused key file: its sanitised name and why, e.g. "is a symbolic link (not followed)".</summary>
public sealed record RejectedKeyFile(string Name, string Reason);
