using LuksVirt.Core.Inventory;

namespace LuksVirt.Core.Status;

public enum DiskLockState
{
    /// <summary>No key for it is on the host.</summary>
    Locked,

    /// <summary>A live dm-crypt mapping exposes the plaintext.</summary>
    Open,

    /// <summary>Its guest runs: QEMU holds the key in memory.</summary>
    InUse,

    /// <summary>A libvirt secret still holds its key (e.g. a start that never finished).</summary>
    KeyInLibvirt,
}

public sealed record DiskStatus(string Container, DiskBackend Backend, DiskLockState State, string? LinkPath, string? LastOpenedBy, int? LastSlot, DateTimeOffset? LastOpenedAt);

public sealed record GuestStatus(string Name, string State, bool Autostart, int? Order, IReadOnlyList<DiskStatus> Disks);

public sealed record StatusReport(IReadOnlyList<GuestStatus> Guests, IReadOnlyList<string> Problems);
