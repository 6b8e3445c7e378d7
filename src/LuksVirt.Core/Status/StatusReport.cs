using LuksVirt.Core.Inventory;
using LuksVirt.Core.State;

namespace LuksVirt.Core.Status;

public enum DiskLockState
{
    /// <summary>No key for it is on the host.</summary>
    Locked,

    /// <summary>A live dm-crypt mapping exposes the plaintext.</summary>
    Open,

    /// <summary>Its guest runs: QEMU holds the key in memory.</summary>
    InUse,

    /// <summary>A libvirt secret still holds its key (e.g. a start that never finished, or a
    /// run killed before it removed the secret), whether or not the guest runs.</summary>
    KeyInLibvirt,
}

/// <summary>The libvirt secret of a native disk's UUID, when one exists.</summary>
/// <param name="MadeByLuksVirt">False for a secret LuksVirt did not make (e.g. an administrator's
/// persistent one): LuksVirt never removes it.</param>
public sealed record DiskSecretStatus(Guid Uuid, bool MadeByLuksVirt);

/// <param name="Secret">Set when a libvirt secret of the disk's UUID exists (state <see cref="DiskLockState.KeyInLibvirt"/>).</param>
public sealed record DiskStatus(string Container, DiskBackend Backend, DiskLockState State, string? LinkPath, string? LastOpenedBy, int? LastSlot, DateTimeOffset? LastOpenedAt, DiskSecretStatus? Secret = null);

/// <summary>A libvirt secret LuksVirt made that still holds a key, whether or not its disk is in the inventory.</summary>
/// <param name="Leftover">True when no luksvirt run was under way as it was found (the run lock
/// was free): an interrupted run left it, and the next unlock or watch start removes it. False
/// when a run holds the run lock: the secret may be that run's, in use right now.</param>
public sealed record KeyInLibvirtSecret(Guid Uuid, string Container, bool Leftover);

public sealed record GuestStatus(string Name, string State, bool Autostart, int? Order, IReadOnlyList<DiskStatus> Disks);

/// <param name="KeysInLibvirt">Every secret of LuksVirt's libvirt holds; each leftover is also a problem.</param>
/// <param name="LastUnlock">How the last unlock run ended (state file); null when none is recorded.</param>
public sealed record StatusReport(IReadOnlyList<GuestStatus> Guests, IReadOnlyList<string> Problems, IReadOnlyList<KeyInLibvirtSecret> KeysInLibvirt, UnlockRunRecord? LastUnlock = null)
{
    /// <summary>The quorums the watch service waits for, with the time left (<see cref="QuorumWaitingFile"/>).</summary>
    public IReadOnlyList<string> QuorumWaiting { get; init; } = [];
}
