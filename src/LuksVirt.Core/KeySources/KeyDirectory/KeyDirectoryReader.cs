using LuksVirt.Core.Keys;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.KeySources.KeyDirectory;

/// <summary>
/// Reads the key directory (<see cref="KeyDirectorySource"/>) and removes its key files after use.
/// The directory and every directory above it must be safe from anyone but root
/// (<see cref="TrustedKeyDirectory"/>); each allow-listed entry is read by
/// <see cref="KeyFileReader"/> under <see cref="KeyFileChecks.DroppedByRoot"/>: only regular,
/// non-empty, small files with a single name, owned by root and writable by nobody else.
/// </summary>
internal static class KeyDirectoryReader
{
    /// <summary>
    /// Reads every acceptable key file of <paramref name="directory"/>. Throws
    /// <see cref="KeyDirectoryException"/> when the directory itself is refused; problems with single
    /// entries land in <see cref="KeyDirectoryReadResult.Rejected"/>. The result keeps the
    /// directory open: <see cref="DeleteKeyFiles"/> works through that same descriptor.
    /// </summary>
    public static KeyDirectoryReadResult Read(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var path = TrustedKeyDirectory.Normalize(directory);
        var handle = TrustedKeyDirectory.Open(path);
        try
        {
            return ReadEntries(handle, path);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Removes, after use, every entry <see cref="Read"/> marked for removal: the key files read
    /// and the allow-listed entries refused for their content or type, but only while each is
    /// still the very file that was looked at and has no other name. Regular files lose their name
    /// first, then up to <see cref="SecretBuffer.MaxKeyLength"/> bytes (all a key can be) are
    /// zeroed through the open descriptor (<see cref="PosixFile.UnlinkThenZeroAt"/>): a crash
    /// never leaves a zeroed file that a later run would read as a key, and a huge file that was
    /// never a key is not written over its whole length. Entries refused as unsafe (a second
    /// link, a foreign owner, writable by others, a directory, a name outside the allow-list) are
    /// never touched. Returns the names removed; throws <see cref="IOException"/> listing those
    /// that could not be, after trying them all.
    /// </summary>
    public static IReadOnlyList<string> DeleteKeyFiles(KeyDirectoryReadResult read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var removed = new List<string>();
        var failures = new List<string>();
        foreach (var entry in read.Removable)
        {
            try
            {
                switch (PosixFile.UnlinkThenZeroAt(read.DirectoryHandle, entry.Name, entry.Identity, SecretBuffer.MaxKeyLength))
                {
                    case UnlinkOutcome.Removed or UnlinkOutcome.RemovedAndZeroed:
                        removed.Add(entry.Name);
                        break;
                    case UnlinkOutcome.HasOtherLinks:
                        failures.Add($"{entry.Name}: it gained a second name (hard link) after it was read; left untouched, remove both names");
                        break;
                    case UnlinkOutcome.Gone or UnlinkOutcome.NotSameFile:
                        // Removed by someone else, or a new file dropped since the read: not ours to remove.
                        break;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failures.Add($"{entry.Name}: {e.Message}");
            }
        }

        return failures.Count == 0
            ? removed
            : throw new IOException($"could not delete key files in {read.Directory}: {string.Join("; ", failures)}");
    }

    private static KeyDirectoryReadResult ReadEntries(SafeFileHandle handle, string directory)
    {
        var names = ListEntries(handle, directory);
        var rejected = new List<RejectedKeyFile>();
        var ignored = new List<string>();
        var removable = new List<KeyDirectoryEntry>();
        var reads = new List<ReadKeyFile<FileIdentity>>();
        SameNameResolution<FileIdentity>? resolution = null;
        try
        {
            foreach (var name in names)
            {
                var classified = KeyFileName.Classify(name);
                if (classified.Kind == KeyFileNameKind.NotAKeyFile)
                {
                    ignored.Add(KeyFileName.Sanitize(name));
                    continue;
                }

                if (classified.Kind == KeyFileNameKind.Refused)
                {
                    // Never opened, never removed: only allow-listed names are ever touched.
                    rejected.Add(new RejectedKeyFile(KeyFileName.Sanitize(name), classified.Reason!));
                    continue;
                }

                var read = KeyFileReader.ReadAt(handle, name, KeyFileChecks.DroppedByRoot);
                if (read.Key is { } key)
                {
                    var identity = read.Status!.Value.Identity;
                    removable.Add(new KeyDirectoryEntry(name, identity));
                    reads.Add(new ReadKeyFile<FileIdentity>(identity, name, string.Empty, name, classified.Holder!, classified.SlotHint, key));
                    continue;
                }

                var refusal = read.Refusal!;
                if (RemovableAfterRefusal(handle, name, refusal) is { } refused)
                {
                    removable.Add(new KeyDirectoryEntry(name, refused));
                }

                rejected.Add(new RejectedKeyFile(name, refusal.Reason(Path.Join(directory, name))));
            }

            resolution = SameNameKeyFiles.Resolve(reads);
            reads.Clear();   // every key now belongs to the resolution's kept files, or is zeroed
            rejected.AddRange(resolution.Conflicts.Select(c => new RejectedKeyFile(c.File.Name, c.Reason)));
            ignored.AddRange(resolution.Copies.Select(c => $"{c.File.Name} (the same key as {c.CopyOf}, used once)"));
            var keys = resolution.Kept.Select(k => new PresentedKey(k.Holder, k.Slot, KeyDirectorySource.SourcePrefix + Path.Join(directory, k.Name), k.Key)).ToList();
            return new KeyDirectoryReadResult(directory, handle, new KeySet(keys), [.. resolution.Kept.Select(k => k.Name)], rejected, ignored, removable);
        }
        catch
        {
            reads.ForEach(r => r.Key.Dispose());
            resolution?.Kept.ForEach(r => r.Key.Dispose());
            throw;
        }
    }

    private static IReadOnlyList<string> ListEntries(SafeFileHandle handle, string directory)
    {
        try
        {
            // Sorted, so keys and reports come in the same order on every run.
            return [.. PosixFile.ListDirectory(handle).Order(StringComparer.Ordinal)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyDirectoryException(directory, $"cannot list key directory {directory}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Whether a refused entry is removed after use (its identity) or left alone. An entry is
    /// removed only when removing it cannot change anything but the key directory: one name only,
    /// owned by root, not a directory; a link, FIFO, socket or device node loses its name, nothing
    /// it points at is touched. An entry that changed or vanished while it was read is left alone.
    /// </summary>
    private static FileIdentity? RemovableAfterRefusal(SafeFileHandle directory, string name, KeyFileRefusal refusal) => refusal.Problem switch
    {
        KeyFileProblem.NotRegular or KeyFileProblem.Empty or KeyFileProblem.TooLarge => refusal.Stat.Identity,
        // It was safe to look at, so it is safe to remove: the identity comes from a fresh look.
        KeyFileProblem.Unreadable => TryIdentity(directory, name),
        _ => null,
    };

    private static FileIdentity? TryIdentity(SafeFileHandle directory, string name)
    {
        try
        {
            var status = PosixFile.GetLinkStatusAt(directory, name);
            return KeyFileReader.CheckSafety(status, KeyFileChecks.DroppedByRoot) is null ? status.Identity : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
