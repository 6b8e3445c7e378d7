using System.Globalization;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Quorum;

/// <summary>How a combination ended.</summary>
internal enum QuorumOutcomeKind
{
    /// <summary>k shares combined into the key, and it opened its slot.</summary>
    Opened,

    /// <summary>Fewer than k holders' shares so far.</summary>
    Incomplete,

    /// <summary>A share of another container or another split, or headers that disagree: refused before combining.</summary>
    Mismatched,

    /// <summary>The shares combined into a key that does not open its slot (a damaged or altered share).</summary>
    WrongKey,
}

/// <summary>The result of <see cref="QuorumCombiner.Combine"/>: the key (owned by the caller, who
/// disposes it) when <see cref="Kind"/> is <see cref="QuorumOutcomeKind.Opened"/>, otherwise a
/// message for people and logs that names holders and files but never a key byte.</summary>
internal sealed record QuorumOutcome(QuorumOutcomeKind Kind, string Message, SecretBuffer? Key, int? Slot);

/// <summary>
/// Turns the shares presented so far into the key of a quorum slot, or says why not: shares of
/// another container or another split are named and refused before anything is combined, fewer
/// than k holders are reported as waiting ("1 of 2 holders present (alice), waiting for bob or
/// carol"), and a combined key is proven by one key derivation against its slot before it is
/// handed out. The unlock side calls this as shares arrive.
/// </summary>
internal static class QuorumCombiner
{
    public static QuorumOutcome Combine(IReadOnlyList<QuorumShare> shares, CryptDevice device, string containerName)
    {
        ArgumentNullException.ThrowIfNull(shares);
        ArgumentNullException.ThrowIfNull(device);
        if (shares.Count == 0)
        {
            return Refuse(QuorumOutcomeKind.Incomplete, $"{containerName}: no holder's share presented yet");
        }

        if (shares.FirstOrDefault(s => !string.Equals(s.Header.ContainerUuid, device.Uuid, StringComparison.OrdinalIgnoreCase)) is { } foreign)
        {
            return Refuse(QuorumOutcomeKind.Mismatched,
                $"{foreign.Origin} ({foreign.Header.Holder}'s share) belongs to container {foreign.Header.ContainerUuid}, not to {containerName} ({device.Uuid}); it was not used");
        }

        var first = shares[0];
        if (shares.FirstOrDefault(s => s.Header.SplitId != first.Header.SplitId) is { } other)
        {
            return Refuse(QuorumOutcomeKind.Mismatched,
                $"{other.Origin} ({other.Header.Holder}'s share) is of split {other.Header.SplitId}, {first.Origin} ({first.Header.Holder}'s) of split {first.Header.SplitId}: " +
                $"shares of different splits of {containerName} never combine (one is from an older or newer quorum); present shares of one split");
        }

        if (shares.FirstOrDefault(s => !SameQuorum(s.Header, first.Header)) is { } altered)
        {
            return Refuse(QuorumOutcomeKind.Mismatched,
                $"{altered.Origin} and {first.Origin} claim the same split of {containerName} but disagree on its quorum, holders or slot; one of them was altered");
        }

        if (shares.FirstOrDefault(s => s.Bytes.Length != first.Bytes.Length) is { } truncated)
        {
            return Refuse(QuorumOutcomeKind.Mismatched, string.Create(CultureInfo.InvariantCulture,
                $"{truncated.Origin} has {truncated.Bytes.Length} share bytes, {first.Origin} {first.Bytes.Length}: one of them was truncated or altered"));
        }

        var distinct = shares.GroupBy(s => s.Header.Index).Select(g => g.First()).OrderBy(s => s.Header.Index).ToList();
        var threshold = first.Header.Threshold;
        if (distinct.Count < threshold)
        {
            return Refuse(QuorumOutcomeKind.Incomplete, Waiting(containerName, first.Header, distinct));
        }

        var chosen = distinct.Take(threshold).ToList();
        var xs = chosen.Select(s => (byte)s.Header.Index).ToArray();
        var key = Shamir.Combine(xs, chosen.Select(s => s.Bytes).ToList());
        try
        {
            device.TestKey(key.Span, first.Header.Slot);
        }
        catch (WrongKeyException)
        {
            key.Dispose();
            return Refuse(QuorumOutcomeKind.WrongKey, string.Create(CultureInfo.InvariantCulture,
                $"{containerName}: the shares of {string.Join(", ", chosen.Select(s => s.Header.Holder))} combine into a key that does not open key slot {first.Header.Slot}: the slot was removed since, or one of {string.Join(", ", chosen.Select(s => s.Origin))} is damaged or altered"));
        }
        catch
        {
            key.Dispose();
            throw;
        }

        return new QuorumOutcome(QuorumOutcomeKind.Opened, string.Create(CultureInfo.InvariantCulture,
            $"{containerName}: quorum {threshold} of {first.Header.Count} met ({string.Join(", ", chosen.Select(s => s.Header.Holder))}), key slot {first.Header.Slot} opens"),
            key, first.Header.Slot);
    }

    /// <summary>"db: 1 of 2 holders present (alice), waiting for bob or carol".</summary>
    internal static string Waiting(string containerName, ShareHeader header, IReadOnlyList<QuorumShare> present)
    {
        var names = present.Select(s => s.Header.Holder).ToList();
        var missing = header.Holders.Where(h => !names.Contains(h, StringComparer.Ordinal)).ToList();
        var needed = header.Threshold - present.Count;
        var waiting = needed == 1
            ? string.Join(" or ", missing)
            : string.Create(CultureInfo.InvariantCulture, $"{needed} of {string.Join(", ", missing)}");
        return string.Create(CultureInfo.InvariantCulture,
            $"{containerName}: {present.Count} of {header.Threshold} holders present ({string.Join(", ", names)}), waiting for {waiting}");
    }

    private static bool SameQuorum(ShareHeader a, ShareHeader b) =>
        a.Threshold == b.Threshold && a.Slot == b.Slot && a.Holders.SequenceEqual(b.Holders, StringComparer.Ordinal);

    private static QuorumOutcome Refuse(QuorumOutcomeKind kind, string message) => new(kind, message, null, null);
}
