using LuksVirt.Core.Keys;

namespace LuksVirt.Core.Unlock;

/// <summary>Why a trial is where it is in a disk's queue (shown in reports and logs).</summary>
internal enum TrialReason
{
    /// <summary>This holder opened the disk last time (state file).</summary>
    LastOpener,

    /// <summary>The container records this holder for this slot (LUKS2 token or LUKS1 registry).</summary>
    RegisteredHolder,

    /// <summary>The key file's name names this slot, and the slot is active.</summary>
    SlotHint,

    /// <summary>No better information: one of the remaining active slots.</summary>
    Search,
}

/// <summary>One key derivation: <see cref="Key"/> against exactly one <see cref="Slot"/> of one disk.
/// Trying slots one by one (never "any slot") makes every derivation countable and cancellable.</summary>
internal sealed record KeyTrial(PresentedKey Key, int Slot, TrialReason Reason);
