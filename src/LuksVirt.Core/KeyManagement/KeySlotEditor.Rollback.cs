using LuksVirt.Core.Containers;
using LuksVirt.Core.Headers;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.KeyManagement;

public sealed partial class KeySlotEditor
{
    /// <summary>
    /// Runs <paramref name="change"/> with an in-memory copy of the header taken first. If any step
    /// throws, the copy is written back and verified (byte-identical, and the authorising key
    /// opens), then what lives outside the header is undone: holder registry entries, and the key
    /// file written for a slot that no longer exists. The copy is zeroed when this returns.
    /// Without an authorising key (unbind without --key-file) the restore is checked byte for byte only.
    /// </summary>
    private T RunChange<T>(SecretBuffer? authorisingKey, Func<PendingChange, T> change)
    {
        using var snapshot = HeaderSnapshot.Take(ContainerPath, HeaderBytes);
        var pending = new PendingChange();
        try
        {
            AfterStep(HeaderChangeStep.HeaderSnapshot);
            return change(pending);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            throw RollBack(snapshot, authorisingKey, pending, error);
        }
    }

    // Catches everything on purpose: whatever breaks the rollback, the administrator must get the
    // rescue copy and the original error, not a new exception.
    private SlotChangeFailedException RollBack(HeaderSnapshot snapshot, SecretBuffer? authorisingKey, PendingChange pending, Exception error)
    {
        var failure = $"{ContainerPath}: the key slot change failed: {error.Message}";
        _device.Dispose();
        try
        {
            snapshot.RestoreToContainer();
            _device = CryptDevice.Load(ContainerPath);
            if (authorisingKey is not null)
            {
                _device.TestKey(authorisingKey.Span);
            }
        }
        catch (Exception rollbackError)
        {
            var rescue = snapshot.SaveForRescue(_uuid);
            var saved = rescue is null
                ? " No copy of the old header could be saved."
                : $" The header as it was before the change is saved in {rescue} (RAM only, gone at reboot): check the container, restore it if needed with 'luksvirt header restore --container {ContainerPath} --file {rescue} --yes', then delete it.";
            var kept = pending.KeyFiles.Count switch
            {
                0 => string.Empty,
                1 => $" The new key file {pending.KeyFiles[0].Path} was kept: it may be the key that opens the container now.",
                _ => $" The new key files {string.Join(", ", pending.KeyFiles.Select(f => f.Path))} were kept: together they may open the container now.",
            };
            return new SlotChangeFailedException($"{failure}. ROLLBACK FAILED: {rollbackError.Message}.{saved}{kept}", error, RollbackOutcome.Failed, rescue);
        }

        // The header is as before; now the parts that live outside it.
        var leftovers = new List<string>();
        for (var i = pending.UndoOutsideHeader.Count - 1; i >= 0; i--)
        {
            try
            {
                pending.UndoOutsideHeader[i]();
            }
            catch (Exception undoError)
            {
                leftovers.Add($"the holder registry {HolderLocation} could not be put back ({undoError.Message}); 'luksvirt keys list' shows active slots only, so a stale entry does no harm");
            }
        }

        foreach (var written in pending.KeyFiles)
        {
            if (!TryDeleteKeyFile(written.Path, written.Identity, written.Length, out var reason))
            {
                leftovers.Add($"the key file {written.Path} opens nothing now but could not be deleted ({reason}); delete it");
            }
        }

        var rest = leftovers.Count == 0 ? string.Empty : " However: " + string.Join("; ", leftovers) + ".";
        return new SlotChangeFailedException(
            $"{failure}. Rolled back: the header is byte-identical to before the change{(authorisingKey is null ? string.Empty : " and the authorising key opens it")}.{rest}",
            error, RollbackOutcome.Verified, null);
    }

    /// <summary>Removes the key file this run created, the name first and then its content
    /// zeroed through a descriptor, so a crash never leaves a zeroed file under a key's name; a
    /// file that is no longer the one created (a new file under the name, a hard link to it
    /// added meanwhile) is never written to.</summary>
    private static bool TryDeleteKeyFile(string path, FileIdentity identity, int length, out string? reason)
    {
        try
        {
            using var directory = PosixFile.OpenDirectoryNoFollow(Path.GetDirectoryName(Path.GetFullPath(path))!);
            switch (PosixFile.UnlinkThenZeroAt(directory, Path.GetFileName(path), identity, length))
            {
                case UnlinkOutcome.NotSameFile:
                    reason = "another file has taken its name";
                    return false;
                case UnlinkOutcome.HasOtherLinks:
                    reason = "it has another name (a hard link) now, so it was left as it is";
                    return false;
                default:
                    reason = null;
                    return true;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = e.Message;
            return false;
        }
    }

    /// <summary>What a change did so far outside the header, for the rollback.</summary>
    private sealed class PendingChange
    {
        /// <summary>The key files this run created (O_EXCL, so they are ours to delete): one, or one
        /// share per holder of a quorum slot.</summary>
        public List<WrittenKeyFile> KeyFiles { get; } = [];

        public List<Action> UndoOutsideHeader { get; } = [];
    }

    /// <param name="Path">The key file created.</param>
    /// <param name="Identity">Its identity when it was created.</param>
    /// <param name="Length">The bytes written: at most these are zeroed.</param>
    private sealed record WrittenKeyFile(string Path, FileIdentity Identity, int Length);
}
