using LuksVirt.Core.Keys;

namespace LuksVirt.Core.Unlock;

/// <summary>
/// Keys presented for one run, wherever they came from (key directory, USB stick, terminal).
/// Dispose zeroes them; <see cref="WipeSource"/> removes copies the source keeps on the host.
/// </summary>
public interface IKeyPresentation : IDisposable
{
    KeySet Keys { get; }

    /// <summary>What was presented, rejected and ignored (names only, never key bytes).</summary>
    KeysReport Report { get; }

    /// <summary>Deletes the key files a source left on the host (the key directory); a stick is never written to.</summary>
    void WipeSource();
}
