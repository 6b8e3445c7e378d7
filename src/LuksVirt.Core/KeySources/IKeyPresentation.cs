using LuksVirt.Core.Keys;

namespace LuksVirt.Core.KeySources;

/// <summary>
/// One batch of keys a source presented (key directory, USB stick; later a Tang server, a quorum
/// of shares, a typed passphrase). Dispose zeroes them; <see cref="WipeSource"/> removes copies
/// the source keeps on the host.
/// </summary>
public interface IKeyPresentation : IDisposable
{
    KeySet Keys { get; }

    /// <summary>What was presented, rejected and ignored (names only, never key bytes).</summary>
    KeysReport Report { get; }

    /// <summary>True when key files were refused and left for the administrator to deal with
    /// (a key directory's): the run then did not do all it was asked and must not end as a success.</summary>
    bool LeftRefusedKeyFiles { get; }

    /// <summary>Deletes the key files a source left on the host (the key directory); a stick is never written to.</summary>
    void WipeSource();
}
