using LuksVirt.Core.Keys;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.KeyManagement;

/// <summary>One generated key: who holds it, which slot it opens, and its file name.</summary>
internal sealed record PlannedKey(string Holder, int Slot, bool IsRecovery)
{
    public string FileName => KeyFileName.Format(Holder, Slot);
}

/// <summary>
/// Which key goes into which slot of a new container: the holders' keys in the lowest slots
/// (0, 1, ... in the order given), the recovery key in the highest (7 for LUKS1, 31 for LUKS2).
/// QEMU cannot be told a slot and derives a key for every slot in order, so the keys used
/// every day come first.
/// </summary>
internal sealed class KeySlotLayout
{
    /// <summary>The reserved holder name of the recovery key.</summary>
    public const string RecoveryHolder = "recovery";

    private KeySlotLayout(IReadOnlyList<PlannedKey> keys) => Keys = keys;

    /// <summary>Holders first, the recovery key last.</summary>
    public IReadOnlyList<PlannedKey> Keys { get; }

    public static int SlotCount(LuksVersion version) => version == LuksVersion.Luks1 ? 8 : 32;

    /// <summary>Throws <see cref="ArgumentException"/> with the reason for a bad or duplicate
    /// holder name, the reserved name, or more holders than slots.</summary>
    public static KeySlotLayout Plan(IReadOnlyList<string> holders, LuksVersion version)
    {
        ArgumentNullException.ThrowIfNull(holders);
        var slots = SlotCount(version);
        if (holders.Count > slots - 1)
        {
            throw new ArgumentException($"{holders.Count} holders do not fit: {version.Label()} has {slots} key slots and the highest is the recovery key's");
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var keys = new List<PlannedKey>();
        for (var slot = 0; slot < holders.Count; slot++)
        {
            var holder = holders[slot];
            // The file name must read back as exactly this holder and slot ("a.3" would not).
            var name = $"{KeyFileName.Prefix}{holder}.{slot}{KeyFileName.Suffix}";
            if (KeyFileName.Explain(name) is { } reason)
            {
                throw new ArgumentException($"holder '{KeyFileName.Sanitize(holder)}' cannot name a key file: {reason}");
            }

            if (!KeyFileName.TryParse(name, out var parsedHolder, out var parsedSlot) || parsedHolder != holder || parsedSlot != slot)
            {
                throw new ArgumentException($"holder '{KeyFileName.Sanitize(holder)}' cannot name a key file: use letters, digits, '_' and '-'");
            }

            if (string.Equals(holder, RecoveryHolder, StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"'{RecoveryHolder}' is reserved for the recovery key in the highest slot; choose another holder name");
            }

            if (!seen.Add(holder))
            {
                // Case-insensitive: both files could not live side by side on a FAT stick.
                throw new ArgumentException($"holder '{holder}' is given twice (letter case does not count)");
            }

            keys.Add(new PlannedKey(holder, slot, IsRecovery: false));
        }

        keys.Add(new PlannedKey(RecoveryHolder, slots - 1, IsRecovery: true));
        return new KeySlotLayout(keys);
    }
}
