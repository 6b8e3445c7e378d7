using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Keys;

/// <summary>
/// Key files whose names are equal once letter case is ignored name one holder and slot twice: a
/// FAT stick ignores case, and a stick may carry the same key in two folders (a backup copy).
/// Identical keys (compared in constant time) are one key: the first in path order is used and
/// the others are copies. Different keys under one name are a conflict nothing can settle, so
/// every one of them is refused, each naming the others.
/// </summary>
internal static class SameNameKeyFiles
{
    /// <summary>
    /// Sorts <paramref name="files"/> (in path order) into kept keys, copies and conflicts. Takes
    /// over their keys: those of kept files are handed back, all others are zeroed here.
    /// </summary>
    public static SameNameResolution<T> Resolve<T>(IReadOnlyList<ReadKeyFile<T>> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var resolution = new SameNameResolution<T>();
        foreach (var group in files.GroupBy(f => f.Name, StringComparer.OrdinalIgnoreCase))
        {
            var members = group.ToList();
            var first = members[0];
            if (members.All(m => m.Key.ContentEquals(first.Key)))
            {
                resolution.Kept.Add(first);
                foreach (var copy in members.Skip(1))
                {
                    resolution.Copies.Add(new KeyFileCopy<T>(copy, first.DisplayPath));
                    copy.Key.Dispose();
                }

                continue;
            }

            foreach (var member in members)
            {
                var others = members.Where(o => !ReferenceEquals(o, member) && !o.Key.ContentEquals(member.Key)).ToList();
                resolution.Conflicts.Add(new KeyFileConflict<T>(member, DescribeConflict(member, others)));
            }

            members.ForEach(m => m.Key.Dispose());
        }

        return resolution;
    }

    private static string DescribeConflict<T>(ReadKeyFile<T> file, List<ReadKeyFile<T>> others)
    {
        var names = string.Join(", ", others.Select(o => o.DisplayPath));
        return others.All(o => o.Folder == file.Folder)
            ? $"ambiguous: {names} in the same folder differs from it only in letter case and holds a different key; remove the one that is not meant"
            : $"conflict: {names} has the same file name (letter case aside), so names the same holder and slot, but holds a different key; nothing tells which is meant: remove the one that is not";
    }
}

/// <summary>One key file read whole. <paramref name="Entry"/> is the source's own handle on it;
/// <paramref name="Folder"/> is where it lies (for messages and same-folder checks);
/// <paramref name="DisplayPath"/> is sanitised.</summary>
internal sealed record ReadKeyFile<T>(T Entry, string Name, string Folder, string DisplayPath, string Holder, int? Slot, SecretBuffer Key);

/// <summary>A file holding the same key as <paramref name="CopyOf"/>, which is used instead.</summary>
internal sealed record KeyFileCopy<T>(ReadKeyFile<T> File, string CopyOf);

/// <summary>A file refused because another one of the same name holds a different key.</summary>
internal sealed record KeyFileConflict<T>(ReadKeyFile<T> File, string Reason);

internal sealed class SameNameResolution<T>
{
    /// <summary>Files whose keys are used; their keys now belong to the caller.</summary>
    public List<ReadKeyFile<T>> Kept { get; } = [];

    /// <summary>Identical copies of a kept file (keys already zeroed).</summary>
    public List<KeyFileCopy<T>> Copies { get; } = [];

    /// <summary>Refused files (keys already zeroed).</summary>
    public List<KeyFileConflict<T>> Conflicts { get; } = [];
}
