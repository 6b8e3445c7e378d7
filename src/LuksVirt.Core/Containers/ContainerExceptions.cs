
namespace LuksVirt.Core.Containers;

/// <summary>
/// The request cannot be carried out as asked (bad slot number, last slot, unknown holder, file
/// already there, data on a device, key file clash, unknown domain, not a LUKS container...).
/// Nothing was changed; the message names the fix (exit code 2).
/// </summary>
public sealed class ContainerRefusedException : Exception
{
    public ContainerRefusedException(string message)
        : base(message)
    {
    }

    public ContainerRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>How a header change that failed half-way was undone.</summary>
public enum RollbackOutcome
{
    /// <summary>The header is byte-identical to the in-memory copy taken before the change, and
    /// the authorising key opens it again.</summary>
    Verified,

    /// <summary>The header could not be put back or checked: <see cref="SlotChangeFailedException.RescueFile"/>
    /// names a copy of the old header, when one could be saved.</summary>
    Failed,
}

/// <summary>
/// A change to a container's key slots or header failed after it had started. <see cref="Rollback"/>
/// says whether the header was put back as it was (<see cref="RollbackOutcome.Verified"/>) or not.
/// </summary>
public sealed class SlotChangeFailedException : IOException
{
    public SlotChangeFailedException(string message, Exception cause, RollbackOutcome rollback, string? rescueFile)
        : base(message, cause)
    {
        Rollback = rollback;
        RescueFile = rescueFile;
    }

    public RollbackOutcome Rollback { get; }

    /// <summary>Where the header as it was before the change was saved (tmpfs under /run) when the
    /// rollback failed; null otherwise.</summary>
    public string? RescueFile { get; }
}

/// <summary>Raised by tests (and the fault-injection build's <c>TestFaultHook</c>) to simulate a failing step.</summary>
internal sealed class SimulatedFailureException(string message) : IOException(message);
