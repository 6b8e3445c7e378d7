using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Keys;

/// <summary>
/// One key as a source presented it: who holds it (a name for logs), which slot it probably
/// opens, where it came from, and the bytes themselves, which this object owns and zeroes on
/// dispose. <see cref="ToString"/> shows everything but the key.
/// </summary>
public sealed class PresentedKey : IDisposable
{
    /// <param name="holder">Holder name from the file name or the source.</param>
    /// <param name="slotHint">Key slot to try first, when the source names one.</param>
    /// <param name="source">Where the key came from, e.g. "dir:/run/luksvirt/keys/luks-alice.1.key".</param>
    /// <param name="key">Taken over: disposed with this object.</param>
    public PresentedKey(string holder, int? slotHint, string source, SecretBuffer key)
    {
        ArgumentException.ThrowIfNullOrEmpty(holder);
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentNullException.ThrowIfNull(key);
        Holder = holder;
        SlotHint = slotHint;
        Source = source;
        Secret = key;
    }

    public string Holder { get; }

    public int? SlotHint { get; }

    public string Source { get; }

    public SecretBuffer Secret { get; }

    /// <summary>The LUKS UUID of the one container this key is for (a Tang binding's recovered
    /// passphrase), or null for a key to try wherever it may fit. A key for one container is never
    /// tried on another: that would cost a key derivation per disk for nothing.</summary>
    public Guid? ForContainer { get; init; }

    public override string ToString() => SlotHint is { } slot
        ? $"{Holder} (slot hint {slot}, {Source})"
        : $"{Holder} ({Source})";

    public void Dispose() => Secret.Dispose();
}
