using System.Runtime.CompilerServices;
using LuksVirt.Core.Keys;

namespace LuksVirt.Core.KeySources.Quorum;

/// <summary>A key source read through <see cref="QuorumShares"/>: its batches without their
/// shares, with the keys of the quorums they complete.</summary>
internal sealed class QuorumShareSource(QuorumShares shares, IKeySource inner) : IKeySource
{
    public string Description => inner.Description;

    public async IAsyncEnumerable<IKeyPresentation> PresentAsync(KeySourceContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var batch in inner.PresentAsync(context, cancellationToken).ConfigureAwait(false))
        {
            yield return QuorumPresentation.Of(batch, shares, context);
        }
    }
}

/// <summary>One batch of another source with its shares taken out (kept by
/// <see cref="QuorumShares"/>) and the keys of the quorums they completed put in.</summary>
internal sealed class QuorumPresentation : IKeyPresentation
{
    private readonly IKeyPresentation _inner;
    private readonly IReadOnlyList<PresentedKey> _combined;
    private readonly IReadOnlyList<RejectedKeyReport> _rejected;
    private readonly IReadOnlyList<string> _waiting;

    private QuorumPresentation(IKeyPresentation inner, IReadOnlyList<PresentedKey> others, IReadOnlyList<PresentedKey> combined, IReadOnlyList<RejectedKeyReport> rejected, IReadOnlyList<string> waiting)
    {
        _inner = inner;
        _combined = combined;
        // Not disposed as a set: the inner batch owns its keys, this batch only the combined ones.
        Keys = new KeySet([.. others, .. combined]);
        _rejected = rejected;
        _waiting = waiting;
    }

    public KeySet Keys { get; }

    /// <summary>The inner batch's report as it is now (its files' deletion comes later), with
    /// the shares counted as the keys they made.</summary>
    public KeysReport Report => _inner.Report with
    {
        Presented = Keys.Count,
        Rejected = [.. _inner.Report.Rejected, .. _rejected],
        Waiting = _waiting,
    };

    public bool LeftRefusedKeyFiles => _inner.LeftRefusedKeyFiles;

    /// <summary>Takes <paramref name="batch"/> over (disposed with this one).</summary>
    public static QuorumPresentation Of(IKeyPresentation batch, QuorumShares shares, KeySourceContext context)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(shares);
        var (others, combined, rejected) = shares.Take(batch.Keys, context);
        return new QuorumPresentation(batch, others, combined, rejected, shares.Waiting());
    }

    public void WipeSource() => _inner.WipeSource();

    public void Dispose()
    {
        foreach (var key in _combined)
        {
            key.Dispose();
        }

        _inner.Dispose();
    }
}
