using System.Globalization;
using LuksVirt.Libc;
using LuksVirt.Secrets;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.Keys;

/// <summary>
/// Keys dropped as files into a RAM directory (the classic recipe's way). The directory must be
/// a real directory owned by root and writable by nobody else; each entry is checked without
/// following links or blocking (O_NOFOLLOW|O_NONBLOCK, then fstat), and only small, non-empty,
/// regular, allow-listed files are read. Key bytes go straight from the file into a
/// <see cref="SecretBuffer"/>, used exactly as they are (a trailing newline is part of the key).
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
    /// entries land in <see cref="KeyDirectoryReadResult.Rejected"/>.
    /// </summary>
    public static KeyDirectoryReadResult Read(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        using var handle = OpenTrustedDirectory(directory);
        var names = ListEntries(handle, directory);
        var rejected = new List<RejectedKeyFile>();
        var ignored = new List<string>();
        var candidates = new List<(string Name, string Holder, int? Slot)>();

        foreach (var name in names)
        {
            if (!KeyFileName.LooksLikeKeyFile(name))
            {
                ignored.Add(KeyFileName.Sanitize(name));
            }
            else if (!KeyFileName.TryParse(name, out var holder, out var slot))
            {
                rejected.Add(new RejectedKeyFile(KeyFileName.Sanitize(name), KeyFileName.Explain(name)!));
            }
            else
            {
                candidates.Add((name, holder, slot));
            }
        }

        var ambiguous = KeyFileName.FindCaseCollisions(candidates.Select(c => c.Name));
        var keys = new List<PresentedKey>();
        var keyFileNames = new List<string>();
        try
        {
            foreach (var (name, holder, slot) in candidates)
            {
                if (ambiguous.Contains(name))
                {
                    rejected.Add(new RejectedKeyFile(name, "ambiguous: another key file name differs from it only in letter case"));
                    continue;
                }

                var key = TryReadKeyFile(handle, name, out var reason);
                if (key is null)
                {
                    rejected.Add(new RejectedKeyFile(name, reason!));
                    continue;
                }

                keys.Add(new PresentedKey(holder, slot, SourcePrefix + Path.Join(directory, name), key));
                keyFileNames.Add(name);
            }
        }
        catch
        {
            keys.ForEach(k => k.Dispose());
            throw;
        }

        return new KeyDirectoryReadResult(directory, new KeySet(keys), keyFileNames, rejected, ignored);
    }

    /// <summary>
    /// Wipes key files after use: each named file that is still a regular file is overwritten
    /// with zeros in place (tmpfs pages keep their content after an unlink), then its entry is
    /// removed with unlinkat, which never follows a link. Every name must be an allow-listed key
    /// file name; all are checked before anything is touched. Files already gone are skipped.
    /// Returns the names removed; throws <see cref="IOException"/> listing the ones that could
    /// not be, after trying them all.
    /// </summary>
    public static IReadOnlyList<string> DeleteKeyFiles(string directory, IEnumerable<string> names)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(names);
        var list = names.ToList();
        foreach (var name in list)
        {
            if (KeyFileName.Explain(name) is { } reason)
            {
                throw new ArgumentException($"refusing to delete \"{KeyFileName.Sanitize(name)}\": {reason}", nameof(names));
            }
        }

        using var handle = OpenTrustedDirectory(directory);
        var removed = new List<string>();
        var failures = new List<string>();
        foreach (var name in list.Distinct(StringComparer.Ordinal))
        {
            try
            {
                _ = PosixFile.OverwriteWithZerosAt(handle, name);
            }
            catch (FileNotFoundException)
            {
                continue;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Zeroing is a bonus on top of the unlink, which must happen regardless.
            }

            try
            {
                PosixFile.UnlinkAt(handle, name);
                removed.Add(name);
            }
            catch (FileNotFoundException)
            {
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failures.Add($"{name}: {e.Message}");
            }
        }

        return failures.Count == 0
            ? removed
            : throw new IOException($"could not delete key files in {directory}: {string.Join("; ", failures)}");
    }

    private static SafeFileHandle OpenTrustedDirectory(string directory)
    {
        SafeFileHandle handle;
        try
        {
            handle = PosixFile.OpenDirectoryNoFollow(directory);
        }
        catch (FileNotFoundException e)
        {
            throw new KeyDirectoryException(directory, $"key directory {directory} does not exist", e);
        }
        catch (SymbolicLinkRefusedException e)
        {
            throw new KeyDirectoryException(directory,
                $"key directory {directory} is a symbolic link, which is not followed; use the real directory (mkdir -m 0700 {directory})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyDirectoryException(directory, $"cannot open key directory {directory}: {e.Message}", e);
        }

        try
        {
            var status = PosixFile.GetStatus(handle);
            if (status.Uid != 0)
            {
                throw new KeyDirectoryException(directory,
                    string.Create(CultureInfo.InvariantCulture, $"key directory {directory} is owned by uid {status.Uid}, not root; fix: chown root:root {directory}"));
            }

            if ((status.Mode & GroupOrOtherWritable) != 0)
            {
                throw new KeyDirectoryException(directory,
                    string.Create(CultureInfo.InvariantCulture, $"key directory {directory} is writable by group or others (mode {Convert.ToString(status.Mode & 0xFFF, 8)}); fix: chmod 0700 {directory}"));
            }

            return handle;
        }
        catch
        {
            handle.Dispose();
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

    /// <summary>The key of one allow-listed entry, or null with the reason it was refused.</summary>
    private static SecretBuffer? TryReadKeyFile(SafeFileHandle directory, string name, out string? reason)
    {
        try
        {
            // Look before opening: opening a device node already runs its driver's open.
            var entry = PosixFile.GetLinkStatusAt(directory, name);
            if (entry.Type != PosixFileType.Regular)
            {
                reason = DescribeNonRegular(entry.Type);
                return null;
            }

            // The descriptor is what counts: whatever the name points at now is what we read.
            using var file = PosixFile.OpenAtNoFollow(directory, name, out var status);
            if (status.Type != PosixFileType.Regular)
            {
                reason = DescribeNonRegular(status.Type);
                return null;
            }

            if (status.Size == 0)
            {
                reason = "empty (0 bytes)";
                return null;
            }

            if (status.Size > SecretBuffer.MaxKeyLength)
            {
                reason = string.Create(CultureInfo.InvariantCulture, $"larger than {SecretBuffer.MaxKeyLength} bytes ({status.Size} bytes)");
                return null;
            }

            reason = null;
            return SecretBuffer.ReadFrom(file);
        }
        catch (SymbolicLinkRefusedException)
        {
            reason = DescribeNonRegular(PosixFileType.SymbolicLink);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            // InvalidDataException: the file grew past the limit or shrank to nothing between
            // fstat and read; ReadFrom then leaves no partial key behind.
            reason = $"cannot be read: {e.Message}";
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
}
