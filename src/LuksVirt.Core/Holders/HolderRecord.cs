
namespace LuksVirt.Core.Holders;

/// <summary>What kind of secret a slot holds, as recorded when LuksVirt enrolled it.</summary>
public enum HolderKeyKind
{
    /// <summary>Not recorded (a slot enrolled by another tool, or an older record).</summary>
    Unknown,

    /// <summary>A printable key LuksVirt generated (full entropy, minimal PBKDF2 cost).</summary>
    Generated,

    /// <summary>A passphrase a person chose (calibrated, slow PBKDF).</summary>
    Passphrase,
}

/// <summary>The names of <see cref="HolderKeyKind"/> in token JSON, the registry and reports.</summary>
public static class HolderKeyKinds
{
    public static string NameOf(HolderKeyKind kind) => kind switch
    {
        HolderKeyKind.Generated => "generated",
        HolderKeyKind.Passphrase => "passphrase",
        _ => "unknown",
    };

    public static HolderKeyKind Parse(string? name) => name switch
    {
        "generated" => HolderKeyKind.Generated,
        "passphrase" => HolderKeyKind.Passphrase,
        _ => HolderKeyKind.Unknown,
    };
}

/// <summary>Who holds the key of one slot. Holds no secret: the name is for people and logs.
/// A quorum slot's record names its first holder and carries the whole <see cref="Quorum"/>.</summary>
public sealed record HolderRecord(string Holder, HolderKeyKind Kind, DateTimeOffset? Created)
{
    /// <summary>Set when the slot's key is split among holders (k of n); null for one holder.</summary>
    public QuorumRecord? Quorum { get; init; }
}

/// <summary>A slot whose key is split by Shamir's scheme: any <paramref name="Threshold"/> of
/// <paramref name="Holders"/> (in share order) recover it; <paramref name="SplitId"/> (random,
/// 32 hex digits) tells this split's shares from those of any other.</summary>
public sealed record QuorumRecord(int Threshold, IReadOnlyList<string> Holders, string SplitId)
{
    public int Count => Holders.Count;

    /// <summary>"quorum 2 of 3: alice, bob, carol".</summary>
    public string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"quorum {Threshold} of {Count}: {string.Join(", ", Holders)}");

    public bool Includes(string holder) => Holders.Contains(holder, StringComparer.OrdinalIgnoreCase);

    /// <summary>A record read back from a token or the registry, or null when it makes no sense.</summary>
    internal static QuorumRecord? TryCreate(int threshold, IReadOnlyList<string>? holders, string? splitId) =>
        holders is { Count: >= 2 } && threshold >= 2 && threshold <= holders.Count && holders.All(HolderName.IsValid) && !string.IsNullOrEmpty(splitId)
            ? new QuorumRecord(threshold, holders, splitId)
            : null;
}
