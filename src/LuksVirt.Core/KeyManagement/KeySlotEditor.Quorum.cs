using System.Globalization;
using System.Security.Cryptography;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Holders;
using LuksVirt.Core.Quorum;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.KeyManagement;

public sealed partial class KeySlotEditor
{
    /// <summary>
    /// Enrols one slot whose generated key is split by Shamir's scheme among
    /// <paramref name="holders"/>, any <paramref name="threshold"/> of whom recover it. Each holder
    /// gets a share file <c>luks-HOLDER.SLOT.key</c> in <paramref name="keysOutDirectory"/> (written
    /// as other key files are, and removed again if the change rolls back); the key itself is
    /// never written anywhere. Before the change counts as done, the shares as written are read
    /// back, combined and proven to open the slot.
    /// </summary>
    public KeySlotChange AddQuorum(SecretBuffer authorisingKey, IReadOnlyList<string> holders, int threshold, string keysOutDirectory, int? slot = null)
    {
        ArgumentNullException.ThrowIfNull(holders);
        RequireQuorum(holders, threshold);
        var newKey = NewKey.Generated(keysOutDirectory);
        using var editLock = AcquireEditLock();
        var slots = ListLoadedSlots();
        var target = slot is { } wanted ? RequireFreeSlot(slots, wanted) : FirstFreeSlot(slots, "add a quorum key");
        var shareFiles = holders.Select(holder => PlanKeyFile(newKey, holder, target)!).ToList();
        RequireAuthorisingKey(authorisingKey);
        var quorum = new QuorumRecord(threshold, [.. holders], RandomNumberGenerator.GetHexString(32, lowercase: true));
        var record = NewRecord(holders[0], HolderKeyKind.Generated) with { Quorum = quorum };

        return RunChange(authorisingKey, pending =>
        {
            using var key = SecretBuffer.GeneratePrintableKey(NewKey.GeneratedKeyCharacters);
            Enrol(authorisingKey, key, target, newKey);
            WriteShares(pending, key, quorum, target, shareFiles);
            Record(pending, target, record);
            return new KeySlotChange(ContainerPath, holders[0], target, null, null) { ShareFiles = shareFiles, Quorum = quorum };
        });
    }

    private void WriteShares(PendingChange pending, SecretBuffer key, QuorumRecord quorum, int slot, List<string> shareFiles)
    {
        var shares = Shamir.Split(key.Span, quorum.Threshold, quorum.Count);
        var written = new List<QuorumShare>();
        try
        {
            for (var i = 0; i < shares.Length; i++)
            {
                var header = new ShareHeader(_uuid, quorum.SplitId, quorum.Threshold, quorum.Holders, i + 1, slot);
                using var file = QuorumShare.Encode(header, shares[i]);
                WriteKeyFile(pending, shareFiles[i], file);
                written.Add(QuorumShare.Parse(file, Path.GetFileName(shareFiles[i])));
            }

            // Proven, not assumed: the shares as written combine into a key that opens the slot.
            var outcome = QuorumCombiner.Combine(written.Take(quorum.Threshold).ToList(), _device, ContainerPath);
            outcome.Key?.Dispose();
            if (outcome.Kind != QuorumOutcomeKind.Opened)
            {
                throw new IOException($"{ContainerPath}: the shares just written do not recover the key of key slot {slot}: {outcome.Message}");
            }
        }
        finally
        {
            written.ForEach(s => s.Dispose());
            Array.ForEach(shares, s => s.Dispose());
        }
    }

    private static void RequireQuorum(IReadOnlyList<string> holders, int threshold)
    {
        foreach (var holder in holders)
        {
            RequireHolderName(holder);
        }

        if (holders.GroupBy(h => h, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new ContainerRefusedException($"holder \"{twice.Key}\" is named twice; a quorum needs distinct holders, one share each");
        }

        if (holders.Count < 2 || holders.Count > Shamir.MaxShares || threshold < 2 || threshold > holders.Count)
        {
            throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"--quorum {threshold} with {holders.Count} holders is not a quorum: it needs 2 to {Shamir.MaxShares} holders and a threshold from 2 to the number of holders (for one holder, leave out --quorum)"));
        }
    }

    /// <summary>The active quorum slot that <paramref name="holder"/> holds a share of, if any.</summary>
    private static KeySlotInfo? QuorumSlotOf(List<KeySlotInfo> slots, string holder) =>
        slots.FirstOrDefault(s => s.IsActive && s.Holder?.Quorum is { } quorum && quorum.Includes(holder));

    /// <summary>Why a share cannot be replaced or removed on its own, and what to do instead.</summary>
    private string ExplainQuorumShare(KeySlotInfo slot, string holder)
    {
        var quorum = slot.Holder!.Quorum!;
        var invariant = CultureInfo.InvariantCulture;
        return string.Create(invariant, $"\"{holder}\" holds a share of key slot {slot.Slot} of {ContainerPath} ({quorum.Describe()}), not a key of their own. ")
            + "A share is not replaced alone: the old shares would still recover the key, so every share must be reissued. "
            + string.Create(invariant, $"Make a new split with 'luksvirt keys add --container {ContainerPath} --key-file K --holder ... --quorum {quorum.Threshold} --keys-out DIR', ")
            + string.Create(invariant, $"hand out the new shares, then retire the old split with 'luksvirt keys remove --container {ContainerPath} --key-file K --slot {slot.Slot}'");
    }
}
