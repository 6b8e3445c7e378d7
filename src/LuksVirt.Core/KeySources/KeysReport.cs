namespace LuksVirt.Core.KeySources;

/// <summary>A file meant as a key file that was refused, and why (names only, sanitised).</summary>
public sealed record RejectedKeyReport(string Name, string Reason);

/// <summary>Something a key stick's reader passed over so the rest could be read (a damaged
/// directory entry, a partition without FAT), and why.</summary>
public sealed record SkippedReport(string Where, string Reason);

/// <summary>What key sources presented for one run: how many keys, what they refused or ignored,
/// and whether the presented key files are gone from the host. Never a key.</summary>
public sealed record KeysReport(int Presented, IReadOnlyList<RejectedKeyReport> Rejected, IReadOnlyList<string> Ignored, bool Deleted)
{
    /// <summary>What a stick's reader skipped; empty for a key directory.</summary>
    public IReadOnlyList<SkippedReport> Skipped { get; init; } = [];

    /// <summary>Quorums not met yet: "db.luks: 1 of 2 holders present (alice), waiting for bob or carol".</summary>
    public IReadOnlyList<string> Waiting { get; init; } = [];

    /// <summary>The report of several batches as one: counts added, lists joined in order, and
    /// "deleted" when any batch's key files were. One batch is its own report.</summary>
    public static KeysReport Combine(IReadOnlyList<KeysReport> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        if (reports.Count == 1)
        {
            return reports[0];
        }

        return new KeysReport(
            reports.Sum(r => r.Presented),
            [.. reports.SelectMany(r => r.Rejected)],
            [.. reports.SelectMany(r => r.Ignored)],
            reports.Any(r => r.Deleted))
        {
            Skipped = [.. reports.SelectMany(r => r.Skipped)],
            // Each batch says how far every quorum has come: the latest word is the one that holds.
            Waiting = reports[^1].Waiting,
        };
    }
}
