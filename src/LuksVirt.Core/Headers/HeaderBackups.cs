using LuksVirt.Core.Containers;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Headers;

/// <summary>What <see cref="HeaderBackups.Backup"/> wrote and how it was checked.</summary>
/// <param name="KeyCheckedSlot">The slot the key opened in the backup; null when no key was given
/// and the check was limited to "loads as LUKS with the same UUID".</param>
public sealed record HeaderBackupResult(string Container, string BackupFile, string Uuid, LuksVersion Version, long Bytes, int? KeyCheckedSlot);

/// <summary>What <see cref="HeaderBackups.Restore"/> is about to do, for the confirmation.</summary>
/// <param name="ContainerUuid">The container's UUID now (as a damaged header still records it); null when it carries
/// no LUKS header or no readable UUID.</param>
public sealed record HeaderRestorePlan(string Container, string BackupFile, string BackupUuid, LuksVersion BackupVersion, string? ContainerUuid);

/// <param name="KeyCheckedSlot">The slot the key opened after the restore; null when no key was given.</param>
public sealed record HeaderRestoreResult(string Container, string BackupFile, string Uuid, LuksVersion Version, int? KeyCheckedSlot);

/// <summary>
/// LUKS header backups (<c>cryptsetup luksHeaderBackup</c> format) and restores, each verified.
/// A backup is sensitive: with any key that was valid when it was taken it opens the container,
/// even after that key was removed from the container itself.
/// </summary>
public static class HeaderBackups
{
    private const UnixFileMode PrivateDirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// Writes a new backup file (0400; an existing file is refused, never overwritten) and checks it
    /// before it counts: libcryptsetup writes it into a private 0700 directory beside the target,
    /// it is fsynced, it must load as LUKS with the container's UUID and, when <paramref name="key"/>
    /// is given, open with that key; only then is it linked under its name (no-replace) and the
    /// directory fsynced. Whatever fails, no partial file is left, under either name.
    /// </summary>
    /// <param name="key">Optional; null skips the test open (the result says so).</param>
    public static HeaderBackupResult Backup(string container, string backupFile, SecretBuffer? key, Action<HeaderChangeStep>? afterStep = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(container);
        ArgumentException.ThrowIfNullOrEmpty(backupFile);
        using var device = KeySlotEditor.LoadContainer(container);
        var uuid = device.Uuid;
        var version = device.Version;
        if (Exists(backupFile))
        {
            throw new ContainerRefusedException($"{backupFile} already exists; a header backup never overwrites a file: choose a new file name");
        }

        var target = Path.GetFullPath(backupFile);
        var directory = Path.GetDirectoryName(target)!;
        if (!Directory.Exists(directory))
        {
            throw new ContainerRefusedException($"the directory of {backupFile} does not exist; create it first");
        }

        if (key is not null)
        {
            // Before anything is written: a wrong key is the caller's mistake, not a bad backup.
            device.TestKey(key.Span);
        }

        // Same directory, so the final link stays on one file system; a random name nobody can
        // have planted; 0700, so the unchecked backup is never readable by anyone else.
        var work = Directory.CreateDirectory(Path.Combine(directory, $".luksvirt-header-backup-{Guid.NewGuid():N}"), PrivateDirectoryMode).FullName;
        var staged = Path.Combine(work, "header");
        try
        {
            device.BackupHeader(staged);
            afterStep?.Invoke(HeaderChangeStep.WriteBackup);
            long bytes;
            using (var file = File.OpenHandle(staged, FileMode.Open, FileAccess.Read))
            {
                RandomAccess.FlushToDisk(file);
                bytes = RandomAccess.GetLength(file);
            }

            int? slot;
            using (var backup = LoadBackup(staged))
            {
                if (backup.Uuid != uuid || backup.Version != version)
                {
                    throw new IOException($"the backup reads back as {backup.Version.Label()} {backup.Uuid}, not the container's {version.Label()} {uuid}");
                }

                slot = key is null ? null : backup.TestKey(key.Span);
            }

            // link(2) + unlink: fails with EEXIST rather than replace a file created meanwhile.
            File.Move(staged, target, overwrite: false);
            using (var directoryHandle = PosixFile.OpenDirectoryNoFollow(directory))
            {
                RandomAccess.FlushToDisk(directoryHandle);
            }

            return new HeaderBackupResult(container, backupFile, uuid, version, bytes, slot);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ContainerRefusedException)
        {
            throw new IOException($"{backupFile}: the header backup failed and nothing was kept: {e.Message}", e);
        }
        finally
        {
            TryDeleteDirectory(work);
        }
    }

    /// <summary>
    /// Checks a restore and returns what it would do, or refuses: the backup must be a LUKS header;
    /// the container must carry the same UUID (a damaged header counts with the UUID it still
    /// records), or no readable UUID at all and <paramref name="force"/>.
    /// </summary>
    public static HeaderRestorePlan PlanRestore(string container, string backupFile, bool force)
    {
        ArgumentException.ThrowIfNullOrEmpty(container);
        ArgumentException.ThrowIfNullOrEmpty(backupFile);
        if (!File.Exists(container))
        {
            throw new ContainerRefusedException($"{container} does not exist or is a directory: give the container's image file or block device");
        }

        using var backup = LoadBackup(backupFile);
        var (containerUuid, damage) = ReadContainerUuid(container);
        if (containerUuid is not null && containerUuid != backup.Uuid)
        {
            throw new ContainerRefusedException(
                $"{backupFile} is the header of LUKS container {backup.Uuid}, but {container} {(damage is null ? "is" : "records")} {containerUuid}; restoring it would make the data unreadable. Use a backup taken from this container");
        }

        if (containerUuid is null && !force)
        {
            throw new ContainerRefusedException(damage is null
                ? $"{container} carries no LUKS header (wiped, or not the right path?); if you are sure {backupFile} was taken from it, repeat with --force"
                : $"{container} carries a damaged LUKS header ({damage.Reason}) that no longer records its UUID, so it cannot be compared with the backup's; if you are sure {backupFile} was taken from it, repeat with --force");
        }

        return new HeaderRestorePlan(container, backupFile, backup.Uuid, backup.Version, containerUuid);
    }

    /// <summary>
    /// Restores <paramref name="plan"/>: with <paramref name="key"/>, first checks that the key opens
    /// the backup; keeps the container's current header area in memory, restores, then checks that
    /// the container loads with the backup's UUID (and opens with the key). A failed check puts the
    /// previous header back (verified byte for byte).
    /// </summary>
    public static HeaderRestoreResult Restore(HeaderRestorePlan plan, SecretBuffer? key, Action<HeaderChangeStep>? afterStep = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        // Re-check: the container or the backup may have changed since the plan was made.
        var current = PlanRestore(plan.Container, plan.BackupFile, force: plan.ContainerUuid is null);
        if (current.ContainerUuid != plan.ContainerUuid || current.BackupUuid != plan.BackupUuid)
        {
            throw new ContainerRefusedException($"{plan.Container} or {plan.BackupFile} changed since the restore was confirmed; run the command again");
        }

        long headerBytes;
        using (var backup = LoadBackup(plan.BackupFile))
        {
            if (key is not null)
            {
                try
                {
                    backup.TestKey(key.Span);
                }
                catch (WrongKeyException e)
                {
                    throw new ContainerRefusedException($"the key given opens no key slot of the backup {plan.BackupFile}; after restoring it you could not open {plan.Container} with this key, so nothing was restored", e);
                }
            }

            headerBytes = checked((long)backup.DataOffsetSectors * 512);
        }

        using var snapshot = HeaderSnapshot.Take(plan.Container, Math.Max(headerBytes, ContainerHeaderBytes(plan.Container)));
        try
        {
            using (var device = CryptDevice.Open(plan.Container))
            {
                device.RestoreHeader(plan.BackupFile);
            }

            afterStep?.Invoke(HeaderChangeStep.RestoreHeader);
            using var restored = CryptDevice.Load(plan.Container);
            if (restored.Uuid != plan.BackupUuid)
            {
                throw new IOException($"{plan.Container} reads back with UUID {restored.Uuid} after the restore, not {plan.BackupUuid}");
            }

            int? slot = key is null ? null : restored.TestKey(key.Span);
            return new HeaderRestoreResult(plan.Container, plan.BackupFile, restored.Uuid, restored.Version, slot);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            try
            {
                snapshot.RestoreToContainer();
            }
            catch (Exception rollbackError)
            {
                var rescue = snapshot.SaveForRescue(plan.ContainerUuid ?? plan.BackupUuid);
                var saved = rescue is null ? string.Empty : $" The previous header is saved in {rescue} (RAM only, gone at reboot).";
                throw new SlotChangeFailedException(
                    $"{plan.Container}: the header restore failed: {error.Message}. ROLLBACK FAILED: {rollbackError.Message}.{saved}", error, RollbackOutcome.Failed, rescue);
            }

            throw new SlotChangeFailedException(
                $"{plan.Container}: the header restore failed: {error.Message}. Rolled back: the header area is byte-identical to before the restore.", error, RollbackOutcome.Verified, null);
        }
    }

    /// <summary>The container's UUID: from its header, or as a damaged header still records it
    /// (then with the damage); null when it carries no LUKS signature or no readable UUID.</summary>
    private static (string? Uuid, DamagedHeaderException? Damage) ReadContainerUuid(string container)
    {
        try
        {
            if (!CryptDevice.IsLuks(container))
            {
                return (null, null);
            }

            using var device = CryptDevice.Load(container);
            return (device.Uuid, null);
        }
        catch (DamagedHeaderException e)
        {
            // The very case a restore is for: the header is there but libcryptsetup refuses it.
            return (e.RecordedUuid, e);
        }
    }

    /// <summary>The header area of the container as it is now (0 when it carries no loadable LUKS
    /// header: the backup's header area is the one the restore overwrites then).</summary>
    private static long ContainerHeaderBytes(string container)
    {
        try
        {
            if (!CryptDevice.IsLuks(container))
            {
                return 0;
            }
        }
        catch (DamagedHeaderException)
        {
            return 0;
        }

        using var device = CryptDevice.Load(container);
        return checked((long)device.DataOffsetSectors * 512);
    }

    private static CryptDevice LoadBackup(string backupFile)
    {
        if (!File.Exists(backupFile))
        {
            throw new ContainerRefusedException($"{backupFile} does not exist or is a directory");
        }

        try
        {
            return CryptDevice.Load(backupFile);
        }
        catch (NotLuksException e)
        {
            throw new ContainerRefusedException($"{backupFile} is not a LUKS header backup", e);
        }
        catch (DamagedHeaderException e)
        {
            throw new ContainerRefusedException($"{backupFile} is a damaged LUKS header backup ({e.Reason}); use another backup of this container", e);
        }
    }

    private static bool Exists(string path)
    {
        try
        {
            PosixFile.GetLinkStatus(path);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The error that made us delete matters more; the caller reports that one.
        }
    }
}
