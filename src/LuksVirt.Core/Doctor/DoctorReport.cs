namespace LuksVirt.Core.Doctor;

public enum CheckStatus
{
    Ok,
    Warning,
    Failed,
}

/// <summary>One host check: what was checked, what was found, and for anything not Ok the fix.
/// <paramref name="Required"/> checks make <c>luksvirt doctor</c> exit 1 when they fail.</summary>
public sealed record DoctorCheck(string Name, CheckStatus Status, string Detail, string? Fix = null, bool Required = false);

public sealed record DoctorReport(IReadOnlyList<DoctorCheck> Checks)
{
    public bool RequiredChecksPassed => Checks.All(c => !c.Required || c.Status != CheckStatus.Failed);
}
