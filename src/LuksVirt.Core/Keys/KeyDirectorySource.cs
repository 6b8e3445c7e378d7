using System.Globalization;
using LuksVirt.Libc;
using LuksVirt.Secrets;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.Keys;

/// <summary>
/// Keys dropped as files into a RAM directory (the classic recipe's way). The directory and every
/// directory above it must be safe from anyone but root (<see cref="TrustedKeyDirectory"/>); each
/// entry is checked without following links or blocking (fstatat, then O_NOFOLLOW|O_NONBLOCK and
/// fstat on the descriptor), and only allow-listed, regular, non-empty, small files with a single
/// name, owned by root and writable by nobody else, are read. Key bytes go straight from the file
/// into a <see cref="SecretBuffer"/>, used exactly as they are (a trailing newline is part of the key).
/// </summary>
public static class KeyDirectorySource
{
    /// <summary>Where LuksVirt looks by default (tmpfs, 0700).</summary>
    public const string DefaultDirectory = "/run/luksvirt/keys";

    /// <summary>The classic recipe's directory, accepted unchanged.</summary>
    public const string LegacyDirectory = "/dev/shm/lukskeys";

    /// <summary>Prefix of <see cref="PresentedKey.Source"/> for keys from a directory.</summary>
    public const string SourcePrefix = "dir:";

    private const uint GroupOrOtherWritable = 0b000_010_010;   // 0022

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
                if (!KeyFileName.LooksLikeKeyFile(name))
                {
                    ignored.Add(KeyFileName.Sanitize(name));
                    continue;
                }

                if (!KeyFileName.TryParse(name, out var holder, out var slot))
                {
                    // Never opened, never removed: only allow-listed names are ever touched.
                    rejected.Add(new RejectedKeyFile(KeyFileName.Sanitize(name), KeyFileName.Explain(name)!));
                    continue;
                }

                var inspection = Inspect(handle, directory, name);
                if (inspection.Removable is { } identity)
                {
                    removable.Add(new KeyDirectoryEntry(name, identity));
                }

                if (inspection.Key is { } key)
                {
                    reads.Add(new ReadKeyFile<FileIdentity>(inspection.Removable!.Value, name, string.Empty, name, holder, slot, key));
                }
                else
                {
                    rejected.Add(new RejectedKeyFile(name, inspection.Reason!));
                }
            }

            resolution = SameNameKeyFiles.Resolve(reads);
            reads.Clear();   // every key now belongs to the resolution's kept files, or is zeroed
            rejected.AddRange(resolution.Conflicts.Select(c => new RejectedKeyFile(c.File.Name, c.Reason)));
            ignored.AddRange(resolution.Copies.Select(c => $"{c.File.Name} (the same key as {c.CopyOf}, used once)"));
            var keys = resolution.Kept.Select(k => new PresentedKey(k.Holder, k.Slot, SourcePrefix + Path.Join(directory, k.Name), k.Key)).ToList();
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
    /// One allow-listed entry: its key, or the reason it was refused; and whether it is removed
    /// after use (its identity) or left alone. An entry is removed only when removing it cannot
    /// change anything but the key directory: one name only, owned by root, not a directory.
    /// </summary>
    private static Inspection Inspect(SafeFileHandle directory, string directoryPath, string name)
    {
        var path = Path.Join(directoryPath, name);
        try
        {
            // Look before opening: opening a device node already runs its driver.
            var entry = PosixFile.GetLinkStatusAt(directory, name);
            if (RefuseAsUnsafe(entry, path) is { } unsafeReason)
            {
                return Inspection.Refused(unsafeReason, removable: null);
            }

            if (entry.Type != PosixFileType.Regular)
            {
                // A link, FIFO, socket or device node: its name goes, nothing it points at is touched.
                return Inspection.Refused(DescribeNonRegular(entry.Type), entry.Identity);
            }

            // The descriptor is what counts: whatever the name points at now is what we read.
            using var file = PosixFile.OpenAtNoFollow(directory, name, out var status);
            if (status.Type != PosixFileType.Regular || RefuseAsUnsafe(status, path) is not null)
            {
                // Changed between the look and the open (only root can do that here): leave it.
                return Inspection.Refused("changed while it was being read; present it again", removable: null);
            }

            if (status.Size == 0)
            {
                return Inspection.Refused("empty (0 bytes)", status.Identity);
            }

            if (status.Size > SecretBuffer.MaxKeyLength)
            {
                return Inspection.Refused(string.Create(CultureInfo.InvariantCulture, $"larger than {SecretBuffer.MaxKeyLength} bytes ({status.Size} bytes)"), status.Identity);
            }

            return Inspection.Read(SecretBuffer.ReadFrom(file), status.Identity);
        }
        catch (FileNotFoundException)
        {
            return Inspection.Refused("disappeared while the directory was read", removable: null);
        }
        catch (SymbolicLinkRefusedException)
        {
            return Inspection.Refused("changed while it was being read; present it again", removable: null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            // InvalidDataException: the file grew past the limit or shrank to nothing between
            // fstat and read; ReadFrom then leaves no partial key behind. It was safe to look at,
            // so it is safe to remove: the identity comes from a fresh look.
            return Inspection.Refused($"cannot be read: {e.Message}", TryIdentity(directory, name));
        }
    }

    /// <summary>Why an entry must be neither read nor changed, or null when it may be.</summary>
    private static string? RefuseAsUnsafe(PosixFileStatus status, string path)
    {
        if (status.Type == PosixFileType.Directory)
        {
            return $"is a directory, not a key file; LuksVirt never removes directories: fix: rmdir {path} (or move it away)";
        }

        if (status.LinkCount != 1)
        {
            // Writing to it (the wipe) would change the file under its other name too.
            return string.Create(CultureInfo.InvariantCulture,
                $"has {status.LinkCount} names (a hard link to a file elsewhere); never read or changed, as that would change the other name's file too: fix: rm {path}, then copy the key in (cp, not ln)");
        }

        if (status.Uid != 0)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"is owned by uid {status.Uid}, not root; never read or changed: fix: chown root:root {path} if it is a key you trust");
        }

        // A symbolic link's own mode is always 0777 and means nothing.
        if (status.Type != PosixFileType.SymbolicLink && (status.Mode & GroupOrOtherWritable) != 0)
        {
            return $"is writable by group or others (mode {Convert.ToString(status.Mode & 0xFFF, 8).PadLeft(4, '0')}); never read or changed: fix: chmod 0600 {path} if it is a key you trust";
        }

        return null;
    }

    private static FileIdentity? TryIdentity(SafeFileHandle directory, string name)
    {
        try
        {
            var status = PosixFile.GetLinkStatusAt(directory, name);
            return RefuseAsUnsafe(status, name) is null ? status.Identity : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string DescribeNonRegular(PosixFileType type) => type switch
    {
        PosixFileType.SymbolicLink => "is a symbolic link (not followed)",
        PosixFileType.Fifo => "is a FIFO, not a regular file",
        PosixFileType.CharacterDevice => "is a character device, not a regular file",
        PosixFileType.BlockDevice => "is a block device, not a regular file",
        PosixFileType.Directory => "is a directory, not a regular file",
        PosixFileType.Socket => "is a socket, not a regular file",
        _ => "is not a regular file",
    };

    /// <summary>What looking at one entry gave: a key or a reason, and the identity to remove
    /// after use (null: leave it alone).</summary>
    private readonly record struct Inspection(SecretBuffer? Key, string? Reason, FileIdentity? Removable)
    {
        public static Inspection Read(SecretBuffer key, FileIdentity identity) => new(key, null, identity);

        public static Inspection Refused(string reason, FileIdentity? removable) => new(null, reason, removable);
    }
}
