using System.Globalization;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Headers;
using LuksVirt.Core.Holders;
using LuksVirt.Core.Keys;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.KeyManagement;

public sealed partial class KeySlotEditor
{
    /// <summary>
    /// Enrols a new key for <paramref name="holder"/> in <paramref name="slot"/> (default: the lowest
    /// free slot, since QEMU tries slots in order and everyday keys belong low). Refuses a holder
    /// that already holds a slot, a slot out of range or in use, a full container, and a key file
    /// that already exists.
    /// </summary>
    public KeySlotChange Add(SecretBuffer authorisingKey, string holder, NewKey newKey, int? slot = null)
    {
        ArgumentNullException.ThrowIfNull(newKey);
        RequireHolderName(holder);
        using var editLock = AcquireEditLock();
        var slots = ListLoadedSlots();
        if (SlotsHeldBy(slots, holder) is [var existing, ..])
        {
            throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"\"{holder}\" already holds key slot {existing.Slot} of {ContainerPath}: give them a new key with 'luksvirt keys replace --holder {holder}', or choose another holder name"));
        }

        var target = slot is { } wanted ? RequireFreeSlot(slots, wanted) : FirstFreeSlot(slots, "add a key");
        var keyFile = PlanKeyFile(newKey, holder, target);
        RequireAuthorisingKey(authorisingKey);
        var record = NewRecord(holder, newKey.Kind);

        return RunChange(authorisingKey, pending =>
        {
            using var generated = newKey.Passphrase is null ? SecretBuffer.GeneratePrintableKey(NewKey.GeneratedKeyCharacters) : null;
            var key = generated ?? newKey.Passphrase!;
            Enrol(authorisingKey, key, target, newKey);
            WriteKeyFile(pending, keyFile, key);
            Record(pending, target, record);
            return new KeySlotChange(ContainerPath, holder, target, null, keyFile);
        });
    }

    /// <summary>
    /// Destroys one slot in use, chosen by <paramref name="holder"/> (an active slot) or by
    /// <paramref name="slot"/> (active or unbound). Refuses the last active slot, an inactive or
    /// out-of-range slot, and an authorising key that opens only the slot being removed: afterwards
    /// a known key must still open the container.
    /// </summary>
    public KeySlotChange Remove(SecretBuffer authorisingKey, string? holder = null, int? slot = null)
    {
        if ((holder is null) == (slot is null))
        {
            throw new ContainerRefusedException("say which key slot to remove: give either a holder or a slot number, not both");
        }

        if (holder is not null)
        {
            RequireHolderName(holder);
        }

        using var editLock = AcquireEditLock();
        var slots = ListLoadedSlots();
        var target = slot is { } number ? RequireUsedSlot(slots, number) : SingleSlotOf(slots, holder!);
        var active = slots.Count(s => s.IsActive);
        if (target.IsActive && active == 1)
        {
            throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"key slot {target.Slot} is the last active key slot of {ContainerPath}; removing it would make the data unreadable forever. Add another key first ('luksvirt keys add'), or use 'luksvirt keys replace' to change this key"));
        }

        if (RequireAuthorisingKey(authorisingKey) == target.Slot)
        {
            throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"the authorising key opens key slot {target.Slot}, the one to be removed; authorise with a key of another slot, so that a key known to work is left"));
        }

        return RunChange(authorisingKey, pending =>
        {
            _device.DestroySlot(target.Slot);
            AfterStep(HeaderChangeStep.DestroySlot);
            Forget(pending, target.Slot, target.Holder);
            // Checked, not assumed: the key that authorised the removal still opens the container.
            RequireAuthorisingKey(authorisingKey);
            return new KeySlotChange(ContainerPath, target.Holder?.Holder, null, target.Slot, null);
        });
    }

    /// <summary>
    /// Gives <paramref name="holder"/> a new key: enrols it in a free slot, proves it opens that
    /// slot, writes it out, moves the holder record, and only then destroys the old slot. Refuses
    /// when no slot is free rather than overwriting the old slot in place (a failed overwrite can
    /// destroy that slot: LUKS keeps no second copy of key slot areas).
    /// </summary>
    public KeySlotChange Replace(SecretBuffer authorisingKey, string holder, NewKey newKey)
    {
        ArgumentNullException.ThrowIfNull(newKey);
        RequireHolderName(holder);
        using var editLock = AcquireEditLock();
        var slots = ListLoadedSlots();
        var old = SingleSlotOf(slots, holder);
        var target = FirstFreeSlot(slots, "replace a key (the old key stays valid until the new one is proven)");
        var keyFile = PlanKeyFile(newKey, old.Holder!.Holder, target);
        RequireAuthorisingKey(authorisingKey);
        var record = NewRecord(old.Holder.Holder, newKey.Kind);

        return RunChange(authorisingKey, pending =>
        {
            using var generated = newKey.Passphrase is null ? SecretBuffer.GeneratePrintableKey(NewKey.GeneratedKeyCharacters) : null;
            var key = generated ?? newKey.Passphrase!;
            Enrol(authorisingKey, key, target, newKey);
            WriteKeyFile(pending, keyFile, key);
            Record(pending, target, record);
            _device.DestroySlot(old.Slot);
            AfterStep(HeaderChangeStep.DestroySlot);
            Forget(pending, old.Slot, old.Holder);
            return new KeySlotChange(ContainerPath, record.Holder, target, old.Slot, keyFile);
        });
    }

    private void Enrol(SecretBuffer authorisingKey, SecretBuffer key, int slot, NewKey newKey)
    {
        _device.SetPbkdf(newKey.PbkdfFor(Version));
        var added = _device.AddKey(authorisingKey.Span, key.Span, slot);
        AfterStep(HeaderChangeStep.AddKey);
        if (added != slot || _device.TestKey(key.Span, slot) != slot)
        {
            throw new IOException(string.Create(CultureInfo.InvariantCulture, $"{ContainerPath}: the new key does not open key slot {slot} it was just enrolled in"));
        }

        AfterStep(HeaderChangeStep.VerifyNewKey);
    }

    private void WriteKeyFile(PendingChange pending, string? keyFile, SecretBuffer key)
    {
        if (keyFile is null)
        {
            return;
        }

        // Created through a descriptor of its directory, O_EXCL + O_NOFOLLOW, 0600, fsync: a key
        // file is never overwritten, never half-written; its identity lets a rollback remove this
        // file and no other that took its name meanwhile.
        using (var directory = PosixFile.OpenDirectoryNoFollow(Path.GetDirectoryName(Path.GetFullPath(keyFile))!))
        {
            var identity = PosixFile.CreateExclusiveAt(directory, Path.GetFileName(keyFile), key.Span, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            pending.KeyFiles.Add(new WrittenKeyFile(keyFile, identity, key.Length));
        }

        AfterStep(HeaderChangeStep.WriteKeyFile);
    }

    private void Record(PendingChange pending, int slot, HolderRecord record)
    {
        _holders.Record(_device, slot, record);
        if (!_holders.LivesInHeader)
        {
            pending.UndoOutsideHeader.Add(() => _holders.Forget(_device, slot));
        }

        AfterStep(HeaderChangeStep.RecordHolder);
    }

    private void Forget(PendingChange pending, int slot, HolderRecord? previous)
    {
        _holders.Forget(_device, slot);
        if (!_holders.LivesInHeader && previous is not null)
        {
            pending.UndoOutsideHeader.Add(() => _holders.Record(_device, slot, previous));
        }

        AfterStep(HeaderChangeStep.ForgetHolder);
    }

    private KeySlotInfo RequireUsedSlot(List<KeySlotInfo> slots, int slot)
    {
        RequireSlotInRange(slot);
        return slots[slot].IsUsed
            ? slots[slot]
            : throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"key slot {slot} of {ContainerPath} is not active and holds no key, so there is nothing to remove; see 'luksvirt keys list --container {ContainerPath}'"));
    }

    private int RequireFreeSlot(List<KeySlotInfo> slots, int slot)
    {
        RequireSlotInRange(slot);
        if (slots[slot].State == KeySlotState.Inactive)
        {
            return slot;
        }

        var holder = slots[slot].Holder is { } record ? $" (held by \"{record.Holder}\")"
            : slots[slot].State == KeySlotState.Unbound ? " (unbound: it holds a key that opens no data)"
            : string.Empty;
        var free = FreeSlots(slots);
        var hint = free.Count == 0 ? "no slot is free" : $"free slots: {string.Join(", ", free)}";
        throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
            $"key slot {slot} of {ContainerPath} is in use{holder}; choose a free slot or leave out --slot ({hint})"));
    }

    private int FirstFreeSlot(List<KeySlotInfo> slots, string purpose)
    {
        var free = FreeSlots(slots);
        return free.Count > 0
            ? free[0]
            : throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"no free key slot on {ContainerPath} (all {SlotCount} {VersionName} slots are in use), and one is needed to {purpose}; remove a key slot no longer needed first ('luksvirt keys remove --slot N')"));
    }

    /// <summary>The key file path for a generated key, after checking that it can be created.</summary>
    private static string? PlanKeyFile(NewKey newKey, string holder, int slot)
    {
        if (newKey.KeysOutDirectory is not { } directory)
        {
            return null;
        }

        if (!Directory.Exists(directory))
        {
            throw new ContainerRefusedException($"--keys-out {directory} is not an existing directory; create it first (ideally on the medium the holder takes away)");
        }

        var path = Path.Combine(directory, KeyFileName.Format(holder, slot));
        if (Exists(path))
        {
            throw new ContainerRefusedException($"{path} already exists; LuksVirt never overwrites a key file: move it away or choose another --keys-out directory");
        }

        return path;
    }

    private static bool Exists(string path)
    {
        try
        {
            // lstat: a dangling symbolic link counts as existing too.
            PosixFile.GetLinkStatus(path);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }
}
