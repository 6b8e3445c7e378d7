using LuksVirt.Core.Keys;
using LuksVirt.Core.Quorum;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.KeySources.Quorum;

/// <summary>
/// The quorum shares presented so far (in one run; in <c>watch</c>, within its window), in locked
/// memory, and the keys they combine into. Every source of a run is read through
/// <see cref="Over"/>: a presented key that is a share (<see cref="ShareHeader.LooksLikeShare"/>)
/// is taken out of its batch and kept here, and the batch gets instead the key of every quorum
/// the new shares complete, for its container and slot only. Trials never see a share.
/// </summary>
/// <remarks>
/// Shares are grouped by container and split, so a share of another container or of another
/// split never mixes with the others; a group that reaches its threshold is combined and the
/// result checked by one key derivation (<see cref="QuorumCombiner"/>). Disposing wipes every
/// share still held: at the end of the run, or when the window expires.
/// </remarks>
internal sealed class QuorumShares : IDisposable
{
    private readonly List<QuorumShare> _held = [];
    private readonly HashSet<string> _completedSplits = new(StringComparer.Ordinal);
    private Dictionary<Guid, string>? _containersByUuid;

    /// <summary>How many shares are held (for status and tests).</summary>
    public int Count
    {
        get
        {
            lock (_held)
            {
                return _held.Count;
            }
        }
    }

    /// <summary><paramref name="source"/>, with its shares taken out and combined here.</summary>
    public IKeySource Over(IKeySource source) => new QuorumShareSource(this, source);

    /// <summary>The quorums not met yet, one line each (holders present, holders awaited).</summary>
    public IReadOnlyList<string> Waiting()
    {
        lock (_held)
        {
            return [.. _held.GroupBy(s => (s.Header.ContainerUuid, s.Header.SplitId))
                .Select(g => QuorumCombiner.Waiting(NameOf(g.Key.ContainerUuid), g.First().Header, [.. g.GroupBy(s => s.Header.Index).Select(i => i.First())]))];
        }
    }

    /// <summary>Takes the shares out of <paramref name="keys"/> (the others are returned as they
    /// are) and returns the keys of the quorums they complete, with what was refused.</summary>
    internal (IReadOnlyList<PresentedKey> Others, IReadOnlyList<PresentedKey> Combined, IReadOnlyList<RejectedKeyReport> Rejected) Take(IReadOnlyList<PresentedKey> keys, KeySourceContext context)
    {
        var others = new List<PresentedKey>();
        var rejected = new List<RejectedKeyReport>();
        var touched = new HashSet<(string, string)>();
        lock (_held)
        {
            foreach (var key in keys)
            {
                if (!ShareHeader.LooksLikeShare(key.Secret.Span))
                {
                    others.Add(key);
                    continue;
                }

                try
                {
                    var share = QuorumShare.Parse(key.Secret, key.Source);
                    if (_completedSplits.Contains(share.Header.SplitId))
                    {
                        share.Dispose();
                        continue;
                    }

                    if (PathOf(share.Header.ContainerUuid, context) is null)
                    {
                        rejected.Add(new RejectedKeyReport(share.Origin,
                            $"{share.Header.Holder}'s share is for container {share.Header.ContainerUuid}, and no container in scope has that UUID (its guest runs already, or the share belongs to another container or host); it was not kept"));
                        share.Dispose();
                        continue;
                    }

                    _held.Add(share);
                    touched.Add((share.Header.ContainerUuid, share.Header.SplitId));
                }
                catch (FormatException e)
                {
                    rejected.Add(new RejectedKeyReport(key.Source, e.Message));
                }
            }

            var combined = new List<PresentedKey>();
            foreach (var group in touched)
            {
                CombineGroup(group, context, combined, rejected);
            }

            return (others, combined, rejected);
        }
    }

    private void CombineGroup((string ContainerUuid, string SplitId) group, KeySourceContext context, List<PresentedKey> combined, List<RejectedKeyReport> rejected)
    {
        var shares = _held.Where(s => s.Header.ContainerUuid == group.ContainerUuid && s.Header.SplitId == group.SplitId).ToList();
        if (shares.Select(s => s.Header.Index).Distinct().Count() < shares[0].Header.Threshold)
        {
            return;
        }

        // Only shares of containers in scope are kept (Take), so the path is known.
        var path = PathOf(group.ContainerUuid, context)!;
        using var device = CryptDevice.Load(path);
        var outcome = QuorumCombiner.Combine(shares, device, path);
        if (outcome is { Kind: QuorumOutcomeKind.Opened, Key: { } key, Slot: { } slot })
        {
            var holders = string.Join('+', shares.Select(s => s.Header.Holder).Distinct(StringComparer.Ordinal));
            combined.Add(new PresentedKey(holders, slot, "quorum:" + string.Join(',', shares.Select(s => s.Origin)), key)
            {
                ForContainer = Guid.Parse(group.ContainerUuid),
            });
            _completedSplits.Add(group.SplitId);
        }
        else
        {
            rejected.Add(new RejectedKeyReport(string.Join(", ", shares.Select(s => s.Origin)), outcome.Message));
        }

        // Combined or refused, these shares have served: a later share starts the count afresh.
        Drop(shares);
    }

    private string? PathOf(string containerUuid, KeySourceContext context)
    {
        if (!Guid.TryParse(containerUuid, out var uuid))
        {
            return null;
        }

        _containersByUuid ??= ReadUuids(context);
        return _containersByUuid.GetValueOrDefault(uuid);
    }

    private static Dictionary<Guid, string> ReadUuids(KeySourceContext context)
    {
        var byUuid = new Dictionary<Guid, string>();
        foreach (var container in context.Containers.Where(c => File.Exists(c.Path)))
        {
            try
            {
                using var device = CryptDevice.Load(container.Path);
                if (Guid.TryParse(device.Uuid, out var uuid))
                {
                    byUuid.TryAdd(uuid, container.Path);
                }
            }
            catch (CryptsetupException)
            {
                // Not a LUKS container here: the run reports it with its disk.
            }
        }

        return byUuid;
    }

    private string NameOf(string containerUuid) =>
        Guid.TryParse(containerUuid, out var uuid) && _containersByUuid?.GetValueOrDefault(uuid) is { } path ? path : $"container {containerUuid}";

    private void Drop(List<QuorumShare> shares)
    {
        foreach (var share in shares)
        {
            _held.Remove(share);
            share.Dispose();
        }
    }

    /// <summary>Wipes every share still held.</summary>
    public void Dispose()
    {
        lock (_held)
        {
            _held.ForEach(s => s.Dispose());
            _held.Clear();
        }
    }
}
