namespace LuksVirt.Core.KeyManagement;

/// <summary>What a clevis pin says, as <c>keys list</c> shows it: a tang pin's server, an sss
/// pin's threshold and its child pins (nested as clevis allows); other pins by name only.</summary>
/// <param name="Pin">"tang", "sss", or another pin's name (e.g. "tpm2").</param>
/// <param name="Url">The Tang server (tang pins only).</param>
/// <param name="Threshold">How many child pins must answer (sss pins only).</param>
/// <param name="Pins">The child pins (sss pins only; empty otherwise).</param>
public sealed record ClevisPinInfo(string Pin, string? Url, int? Threshold, IReadOnlyList<ClevisPinInfo> Pins)
{
    /// <summary>"tang http://a", "sss 2 of [tang http://a, tang http://b]".</summary>
    public string Describe() => Pin switch
    {
        "tang" => $"tang {Url}",
        "sss" => $"sss {Threshold} of [{string.Join(", ", Pins.Select(p => p.Describe()))}]",
        _ => Pin,
    };
}

/// <summary>One clevis binding of a container: the key slot it opens, where it is kept ("clevis
/// token 3", "LUKSMeta slot 1"), and its pin, or the reason it cannot be read.</summary>
public sealed record ClevisBindingInfo(int? Slot, string Location, ClevisPinInfo? Pin, string? Problem);

/// <summary>A Tang server whose advertisement nobody vouched for yet (no <c>thp</c> given, no
/// former key signed it): its signing keys' SHA-256 thumbprints, to compare with the server's
/// (<c>tang-show-keys</c>) before trusting it.</summary>
public sealed record TangServerToConfirm(string Url, IReadOnlyList<string> SigningKeyThumbprints);

/// <summary>What <c>keys bind|unbind|rebind</c> did.</summary>
/// <param name="Container">The container path.</param>
/// <param name="Slot">The key slot bound, unbound (and destroyed) or rebound.</param>
/// <param name="Holder">The holder recorded for the slot, if any.</param>
/// <param name="Pin">The binding written (bind, rebind) or removed (unbind).</param>
/// <param name="Location">Where the binding is kept ("clevis token 3", "LUKSMeta slot 1").</param>
public sealed record ClevisBindingChange(string Container, int Slot, string? Holder, ClevisPinInfo Pin, string Location)
{
    /// <summary>Rebind only: the Tang exchange keys (kid) the old and the new binding name.</summary>
    public IReadOnlyList<string>? OldKeyIds { get; init; }

    public IReadOnlyList<string>? NewKeyIds { get; init; }
}

/// <summary>The Tang servers could not be used for a binding (unreachable, not Tang, no key for
/// the binding): nothing was changed. The message names the server and the fix.</summary>
public sealed class ClevisBindingException : IOException
{
    public ClevisBindingException()
    {
    }

    public ClevisBindingException(string message) : base(message)
    {
    }

    public ClevisBindingException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
