namespace LuksVirt.Core.Tang;

/// <summary>What became of one pin of a binding in a recovery.</summary>
internal enum TangPinOutcome
{
    /// <summary>Its key (or share) was recovered and used.</summary>
    Recovered,

    /// <summary>It was tried and failed (server down or silent, garbage, key not found, altered).</summary>
    Failed,

    /// <summary>A pin LuksVirt cannot evaluate on this host (e.g. tpm2); the others went on.</summary>
    Unsupported,

    /// <summary>Enough other shares were recovered first: its request was cancelled, not awaited.</summary>
    NotAwaited,
}

/// <summary>
/// One leaf pin of a binding and what became of it: for the report and the log. Holds the pin's
/// name, its place in the binding (<c>sss.jwe[1]</c> for the second share of the outer sss), the
/// Tang server's URL and a failure's message: never key material.
/// </summary>
internal sealed record TangPinReport(string Path, string Pin, string? Server, TangPinOutcome Outcome, string? Reason = null)
{
    public override string ToString() =>
        $"{Path} ({Pin}{(Server is null ? string.Empty : " " + Server)}): {Outcome}{(Reason is null ? string.Empty : ": " + Reason)}";
}
