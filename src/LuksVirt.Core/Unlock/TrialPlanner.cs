using LuksVirt.Core.Keys;

namespace LuksVirt.Core.Unlock;

/// <summary>
/// Orders the (key, slot) trials for one disk so that, in the usual case, the first trial opens
/// it: the classic recipe tries every key on every slot of every disk; this aims at one key
/// derivation per disk.
/// </summary>
internal static class TrialPlanner
{
    /// <param name="keys">Every presented key, in a stable order.</param>
    /// <param name="activeSlots">The disk's active key slots, ascending.</param>
    /// <param name="lastOpener">Holder and slot that opened this disk last time, if recorded.</param>
    /// <param name="registeredHolders">Holder name per slot as the container records it.</param>
    public static IReadOnlyList<KeyTrial> Plan(
        IReadOnlyList<PresentedKey> keys,
        IReadOnlyList<int> activeSlots,
        (string Holder, int Slot)? lastOpener,
        IReadOnlyDictionary<int, string>? registeredHolders = null)
    {
        var trials = new List<KeyTrial>();
        var planned = new HashSet<(PresentedKey, int)>();
        var active = activeSlots.ToHashSet();

        void Add(PresentedKey key, int slot, TrialReason reason)
        {
            if (active.Contains(slot) && planned.Add((key, slot)))
            {
                trials.Add(new KeyTrial(key, slot, reason));
            }
        }

        // 1. The holder who opened this disk last time, on the slot that opened it.
        if (lastOpener is { } last)
        {
            foreach (var key in keys.Where(k => k.Holder == last.Holder))
            {
                Add(key, last.Slot, TrialReason.LastOpener);
            }
        }

        // 2. The slot the container itself records for the key's holder.
        foreach (var (slot, holder) in (registeredHolders ?? new Dictionary<int, string>()).OrderBy(r => r.Key))
        {
            foreach (var key in keys.Where(k => string.Equals(k.Holder, holder, StringComparison.OrdinalIgnoreCase)))
            {
                Add(key, slot, TrialReason.RegisteredHolder);
            }
        }

        // 3. Keys whose file name names an active slot, on that slot only.
        foreach (var key in keys.Where(k => k.SlotHint is not null))
        {
            Add(key, key.SlotHint!.Value, TrialReason.SlotHint);
        }

        // 4. Everything else. Keys without a hint first (a hinted key that failed its slot was
        //    most likely presented for another disk). Slots named by some key's hint come first:
        //    by the naming convention those are holders' daily slots, while an unnamed slot is
        //    more likely a recovery key kept offline.
        var hintedSlots = keys.Where(k => k.SlotHint is not null).Select(k => k.SlotHint!.Value).ToHashSet();
        var slotOrder = activeSlots.OrderBy(s => hintedSlots.Contains(s) ? 0 : 1).ThenBy(s => s).ToList();
        foreach (var key in keys.OrderBy(k => k.SlotHint is null ? 0 : 1))
        {
            foreach (var slot in slotOrder)
            {
                Add(key, slot, TrialReason.Search);
            }
        }

        return trials;
    }
}
