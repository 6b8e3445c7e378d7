namespace LuksVirt.Core.State;

/// <summary>
/// Who last opened one container: a holder name and a slot number, never key material.
/// </summary>
/// <param name="ContainerPath">The LUKS container; the key of the state.</param>
/// <param name="LuksUuid">The container's LUKS UUID when known (it survives a renamed path).</param>
/// <param name="Holder">The key holder's name (from <c>luks-&lt;holder&gt;.&lt;slot&gt;.key</c>), or null when the key had none.</param>
/// <param name="Slot">The key slot that opened the container.</param>
/// <param name="OpenedAtUtc">When it was opened, in UTC.</param>
public sealed record DiskUnlockRecord(string ContainerPath, Guid? LuksUuid, string? Holder, int Slot, DateTimeOffset OpenedAtUtc);

/// <summary>How the last unlock run (not a dry run) ended, for status and its metrics.</summary>
/// <param name="AllGuestsRunning">Every guest in the run's scope ran at its end, and nothing went wrong.</param>
public sealed record UnlockRunRecord(DateTimeOffset FinishedAtUtc, bool AllGuestsRunning, int GuestsRunning, int GuestsInScope);

/// <summary>The last unlock of every container LuksVirt has opened on this host, and how the
/// last run ended; immutable.</summary>
public sealed class UnlockState
{
    public static readonly UnlockState Empty = new(new Dictionary<string, DiskUnlockRecord>(StringComparer.Ordinal), lastRun: null);

    private readonly Dictionary<string, DiskUnlockRecord> _disks;

    private UnlockState(Dictionary<string, DiskUnlockRecord> disks, UnlockRunRecord? lastRun)
    {
        _disks = disks;
        LastRun = lastRun;
    }

    /// <summary>By container path.</summary>
    public IReadOnlyDictionary<string, DiskUnlockRecord> Disks => _disks;

    /// <summary>How the last unlock run ended; null when none is recorded.</summary>
    public UnlockRunRecord? LastRun { get; }

    /// <summary>This state with <paramref name="run"/> as the last run.</summary>
    public UnlockState WithLastRun(UnlockRunRecord run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return new UnlockState(_disks, run with { FinishedAtUtc = run.FinishedAtUtc.ToUniversalTime() });
    }

    /// <summary>This state with <paramref name="record"/> replacing any earlier record of its container.</summary>
    public UnlockState With(DiskUnlockRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentException.ThrowIfNullOrEmpty(record.ContainerPath);
        ArgumentOutOfRangeException.ThrowIfNegative(record.Slot);
        var disks = new Dictionary<string, DiskUnlockRecord>(_disks, StringComparer.Ordinal)
        {
            [record.ContainerPath] = record with { OpenedAtUtc = record.OpenedAtUtc.ToUniversalTime() },
        };
        return new UnlockState(disks, LastRun);
    }

    /// <summary>The last opener of a container, unless the container was reformatted since
    /// (its LUKS UUID changed): a record about another header would only mislead the planner.</summary>
    public DiskUnlockRecord? LastOpenerOf(string containerPath, Guid? luksUuid) =>
        _disks.TryGetValue(containerPath, out var record) && (record.LuksUuid is null || luksUuid is null || record.LuksUuid == luksUuid)
            ? record
            : null;

    public UnlockState Without(string containerPath)
    {
        var disks = new Dictionary<string, DiskUnlockRecord>(_disks, StringComparer.Ordinal);
        disks.Remove(containerPath);
        return new UnlockState(disks, LastRun);
    }
}
