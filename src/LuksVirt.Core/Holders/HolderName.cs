using LuksVirt.Core.Keys;

namespace LuksVirt.Core.Holders;

/// <summary>
/// Holder names: the HOLDER part of <c>luks-HOLDER.SLOT.key</c> (<see cref="KeyFileName"/>), 1-64
/// of [A-Za-z0-9_-], so every holder's key file name is valid and safe to show in logs.
/// </summary>
internal static class HolderName
{
    /// <summary>Why <paramref name="holder"/> cannot be a holder name, or null when it can.</summary>
    public static string? Explain(string holder)
    {
        ArgumentNullException.ThrowIfNull(holder);
        if (holder.Length == 0)
        {
            return "the holder name is empty";
        }

        if (holder.Length > KeyFileName.MaxHolderLength)
        {
            return $"the holder name is longer than {KeyFileName.MaxHolderLength} characters";
        }

        foreach (var c in holder)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not '_' and not '-')
            {
                return "the holder name may contain only A-Z a-z 0-9 _ -";
            }
        }

        return null;
    }

    public static bool IsValid(string holder) => Explain(holder) is null;
}
