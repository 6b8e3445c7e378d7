using LuksVirt.Core.Inventory;
using LuksVirt.Core.KeySources;

namespace LuksVirt.Core.Unlock;

public enum DiskOutcome
{
    /// <summary>Opened by this run (or, with --dry-run, proven to open).</summary>
    Opened,

    /// <summary>Already open before this run (a live dm-crypt mapping).</summary>
    AlreadyOpen,

    /// <summary>The guest runs, so QEMU holds the key; nothing to do.</summary>
    InUse,

    /// <summary>No presented key opened it.</summary>
    NoKey,

    /// <summary>Not activated: another disk of its guest has no key, or the run was interrupted
    /// (or failed) before its guest's turn. The message says which.</summary>
    LeftClosed,

    /// <summary>Opened, then closed again because its guest could not start.</summary>
    ClosedAgain,

    /// <summary>Refused before any trial (not LUKS, wrong format for the backend, no device-mapper...).</summary>
    Refused,

    /// <summary>Activation or another step failed; or the guest runs but the disk is not what
    /// LuksVirt would have given it, or its secret could not be removed (each also a problem).</summary>
    Failed,
}

public enum GuestOutcome
{
    Started,
    AlreadyRunning,
    WouldStart,
    NotStarted,
    Failed,
}

/// <summary>One disk in the report: never a key, only who opened it through which slot.</summary>
public sealed record DiskReport(
    string Container,
    DiskBackend Backend,
    DiskOutcome Outcome,
    string? Holder = null,
    int? Slot = null,
    int Derivations = 0,
    string? Message = null);

public sealed record GuestReport(
    string Name,
    string StateBefore,
    string StateAfter,
    GuestOutcome Outcome,
    IReadOnlyList<DiskReport> Disks,
    string? Message = null);

public sealed record UnlockTotals(int KeyDerivations, long WallMilliseconds, int GuestsRunning, int GuestsInScope);

/// <param name="Interrupted">SIGTERM or SIGINT came during the run; the guests' outcomes say
/// what happened to each (a guest whose start went through is reported started).</param>
public sealed record UnlockReport(
    bool DryRun,
    IReadOnlyList<GuestReport> Guests,
    KeysReport Keys,
    UnlockTotals Totals,
    IReadOnlyList<string> Problems,
    bool Interrupted = false)
{
    /// <summary>Exit code 0 only when every guest in scope runs (or would, in a dry run), with
    /// no problem and no failed disk: a report never says "fine" next to a failure.</summary>
    public bool AllGuestsRunning => Problems.Count == 0 && Guests.All(g =>
        (g.Outcome is GuestOutcome.Started or GuestOutcome.AlreadyRunning or GuestOutcome.WouldStart)
        && g.Disks.All(d => d.Outcome != DiskOutcome.Failed));
}
