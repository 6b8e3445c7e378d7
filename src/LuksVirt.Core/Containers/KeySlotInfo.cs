using LuksVirt.Cryptsetup;

namespace LuksVirt.Core.Containers;

/// <summary>One key slot of a container as <c>keys list</c> shows it.</summary>
public sealed record KeySlotInfo(int Slot, KeySlotState State, HolderRecord? Holder)
{
    public bool IsActive => KeySlots.IsActive(State);
}

internal static class KeySlots
{
    public static bool IsActive(KeySlotState state) =>
        state is KeySlotState.Active or KeySlotState.ActiveLast;
}
