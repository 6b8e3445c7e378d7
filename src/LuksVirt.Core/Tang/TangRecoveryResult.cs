using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Tang;

/// <summary>The key a clevis binding gave (owned: dispose it) and what each of its pins did,
/// including which Tang servers answered.</summary>
internal sealed class TangRecoveryResult(SecretBuffer key, IReadOnlyList<TangPinReport> pins) : IDisposable
{
    public SecretBuffer Key { get; } = key;

    public IReadOnlyList<TangPinReport> Pins { get; } = pins;

    /// <summary>The servers whose answers made the key, in the binding's order.</summary>
    public IReadOnlyList<string> AnsweringServers =>
        [.. Pins.Where(p => p.Outcome == TangPinOutcome.Recovered && p.Server is not null).Select(p => p.Server!)];

    public void Dispose() => Key.Dispose();
}
