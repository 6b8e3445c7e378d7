using LuksVirt.Core.Inventory;

namespace LuksVirt.Core.Lock;

public enum GuestLockOutcome
{
    /// <summary>The guest powered off after the ACPI request.</summary>
    ShutDown,

    /// <summary>The guest ignored the ACPI request until the timeout and was destroyed.</summary>
    Destroyed,

    AlreadyOff,
    Failed,
}

public enum DiskLockOutcome
{
    /// <summary>The dm-crypt mapping and its link were removed.</summary>
    Closed,

    /// <summary>A libvirt secret holding the key was removed.</summary>
    SecretRemoved,

    /// <summary>Nothing of the key was left on the host.</summary>
    AlreadyLocked,

    /// <summary>A libvirt secret of the disk's UUID exists, but LuksVirt did not make it (e.g. an
    /// administrator's persistent secret): left untouched, never removed.</summary>
    SecretNotLuksVirts,

    Failed,
}

public sealed record DiskLockReport(string Container, DiskBackend Backend, DiskLockOutcome Outcome, string? Message = null);

public sealed record GuestLockReport(string Name, string StateBefore, string StateAfter, GuestLockOutcome Outcome, IReadOnlyList<DiskLockReport> Disks, string? Message = null);

public sealed record LockReport(IReadOnlyList<GuestLockReport> Guests, long WallMilliseconds, IReadOnlyList<string> Problems)
{
    public bool Succeeded => Problems.Count == 0
        && Guests.All(g => g.Outcome != GuestLockOutcome.Failed && g.Disks.All(d => d.Outcome != DiskLockOutcome.Failed));
}
