namespace LuksVirt.Core.Tang;

/// <summary>Fewer than the threshold of an sss binding's shares could be recovered. The message
/// lists every share's pin, server and failure (no key material); <see cref="Pins"/> has them.</summary>
internal sealed class SssThresholdException(string message, IReadOnlyList<TangPinReport> pins) : TangException(message)
{
    public IReadOnlyList<TangPinReport> Pins { get; } = pins;
}

/// <summary>A binding made with a clevis pin LuksVirt cannot evaluate on this host (tpm2, a
/// custom pin): named, so the report can say so, and not an error that stops other disks.</summary>
internal sealed class UnsupportedClevisPinException(string pin)
    : TangException($"the clevis pin '{EcPublicJwk.Printable(pin)}' cannot be evaluated by LuksVirt on this host; only tang and sss are")
{
    public string Pin { get; } = EcPublicJwk.Printable(pin);
}
