using System.Globalization;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Core.Quorum;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.Containers;

/// <summary>
/// The quorum slot of <c>create --holder a --holder b --holder c --quorum 2</c>: key slot 0 (the
/// first QEMU tries), its key split among the holders, one share file <c>luks-HOLDER.0.key</c>
/// each. <see cref="Plan"/> refuses what <see cref="KeySlotEditor.AddQuorum"/> would refuse, so
/// create refuses before it formats anything; the split itself is AddQuorum's.
/// </summary>
internal sealed record CreateQuorum(IReadOnlyList<string> Holders, int Threshold)
{
    public const int Slot = 0;

    /// <summary>The share files, as planned keys, so that a name already taken in --keys-out is
    /// refused with the other key files' names.</summary>
    public IEnumerable<PlannedKey> ShareFiles => Holders.Select(h => new PlannedKey(h, Slot, IsRecovery: false));

    /// <summary>Throws <see cref="ArgumentException"/> with the reason and the fix.</summary>
    public static CreateQuorum Plan(IReadOnlyList<string> holders, int threshold, LuksVersion version)
    {
        ArgumentNullException.ThrowIfNull(holders);
        if (threshold < 2)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"--quorum {threshold} is not a quorum: give --quorum 2 or more, or leave --quorum out to give each holder a key of their own"));
        }

        if (threshold > holders.Count)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"--quorum {threshold} needs at least {threshold} holders, {holders.Count} given: add a --holder NAME for each, or lower --quorum"));
        }

        if (holders.Count > Shamir.MaxShares)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{holders.Count} holders: a quorum is split among at most {Shamir.MaxShares}"));
        }

        // A share file is named as a holder's own key in slot 0 would be: the same name rules.
        foreach (var holder in holders)
        {
            _ = KeySlotLayout.Plan([holder], version);
        }

        if (holders.GroupBy(h => h, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new ArgumentException($"holder '{twice.Key}' is given twice (letter case does not count); a quorum needs distinct holders, one share each");
        }

        return new CreateQuorum([.. holders], threshold);
    }
}
