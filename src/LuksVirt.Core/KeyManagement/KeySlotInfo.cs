using LuksVirt.Core.Holders;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.KeyManagement;

/// <summary>One key slot of a container as <c>keys list</c> shows it.</summary>
/// <param name="Holder">LuksVirt's holder record of the slot, when there is one.</param>
/// <param name="OtherTokens">Types of the LUKS2 tokens of other tools bound to the slot
/// (systemd-tpm2, clevis...), in token order; empty for LUKS1.</param>
public sealed record KeySlotInfo(int Slot, KeySlotState State, HolderRecord? Holder, IReadOnlyList<string> OtherTokens)
{
    public KeySlotInfo(int slot, KeySlotState state, HolderRecord? holder) : this(slot, state, holder, []) { }

    /// <summary>Opens the data: active, or active and the last one.</summary>
    public bool IsActive => KeySlots.IsActive(State);

    /// <summary>Holds a key: active, or unbound (a LUKS2 key that opens no data segment, e.g. made
    /// by <c>cryptsetup luksAddKey --unbound</c> or kept for a re-encryption).</summary>
    public bool IsUsed => KeySlots.IsUsed(State);
}

internal static class KeySlots
{
    public static bool IsActive(KeySlotState state) =>
        state is KeySlotState.Active or KeySlotState.ActiveLast;

    public static bool IsUsed(KeySlotState state) =>
        IsActive(state) || state == KeySlotState.Unbound;
}
