using LuksVirt.Core.Holders;

namespace LuksVirt.Core.KeyManagement;

/// <summary>What a key slot change did.</summary>
/// <param name="Container">The container path.</param>
/// <param name="Holder">The holder of the added, replaced or removed slot (null: a removed slot nobody was recorded for).</param>
/// <param name="AddedSlot">The slot the new key went to, if any.</param>
/// <param name="RemovedSlot">The slot destroyed, if any.</param>
/// <param name="KeyFile">Where a generated key was written, if any.</param>
public sealed record KeySlotChange(string Container, string? Holder, int? AddedSlot, int? RemovedSlot, string? KeyFile)
{
    /// <summary>For a quorum slot: one share file per holder, in the quorum's holder order.</summary>
    public IReadOnlyList<string>? ShareFiles { get; init; }

    /// <summary>For a quorum slot: its threshold, holders and split id.</summary>
    public QuorumRecord? Quorum { get; init; }
}
