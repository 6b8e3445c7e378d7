namespace LuksVirt.Core.Containers;

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

/// <summary>Who holds the key of one slot. Holds no secret: the name is for people and logs.</summary>
public sealed record HolderRecord(string Holder, HolderKeyKind Kind, DateTimeOffset? Created);
