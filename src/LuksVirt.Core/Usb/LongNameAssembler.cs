namespace LuksVirt.Core.Usb;

/// <summary>
/// Collects the long-name (VFAT) entries that precede an 8.3 entry. A run counts only when its
/// sequence numbers descend without a gap from the one flagged last, every part carries the
/// checksum of the 8.3 name that follows, and the name it spells is valid; anything else is
/// ignored and the 8.3 name is used, as the specification asks.
/// </summary>
internal sealed class LongNameAssembler
{
    private const int CharsPerSlot = 13;
    private const int MaxSlots = 20;
    private const int MaxNameLength = 255;
    private const byte LastSlotFlag = 0x40;
    private const byte SequenceMask = 0x1F;

    // UTF-16 code unit offsets of the three name pieces inside a 32-byte slot.
    private static readonly (int Offset, int Count)[] NamePieces = [(1, 5), (14, 6), (28, 2)];

    private readonly char[] _chars = new char[MaxSlots * CharsPerSlot];
    private int _slots;
    private int _nextSequence;
    private byte _checksum;

    public void Reset()
    {
        _slots = 0;
        _nextSequence = 0;
    }

    public void Add(ReadOnlySpan<byte> slot)
    {
        var ordinal = slot[0];
        // DIR_NTRes-equivalent type byte and the cluster field must be 0 in a long-name entry.
        if (slot[12] != 0 || slot[26] != 0 || slot[27] != 0)
        {
            Reset();
            return;
        }

        int sequence;
        if ((ordinal & LastSlotFlag) != 0)
        {
            sequence = ordinal & ~LastSlotFlag;
            if (sequence is < 1 or > MaxSlots)
            {
                Reset();
                return;
            }

            _slots = sequence;
            _checksum = slot[13];
        }
        else
        {
            sequence = ordinal & SequenceMask;
            if (_slots == 0 || ordinal != _nextSequence || sequence < 1 || slot[13] != _checksum)
            {
                Reset();
                return;
            }
        }

        var destination = (sequence - 1) * CharsPerSlot;
        foreach (var (offset, count) in NamePieces)
        {
            for (var i = 0; i < count; i++)
            {
                var at = offset + (2 * i);
                _chars[destination++] = (char)(slot[at] | (slot[at + 1] << 8));
            }
        }

        _nextSequence = sequence - 1;
    }

    /// <summary>The long name for the 8.3 entry <paramref name="shortName"/>, or null when no
    /// complete, matching, valid run precedes it. Starts a new run either way.</summary>
    public string? Complete(ReadOnlySpan<byte> shortName)
    {
        var complete = _slots > 0 && _nextSequence == 0 && _checksum == ShortName.Checksum(shortName);
        var slots = _slots;
        Reset();
        if (!complete)
        {
            return null;
        }

        var chars = _chars.AsSpan(0, slots * CharsPerSlot);
        var end = chars.IndexOf('\0');
        if (end < 0)
        {
            end = chars.Length;
        }
        else if (end <= (slots - 1) * CharsPerSlot || chars[(end + 1)..].ContainsAnyExcept('\uFFFF'))
        {
            // The terminator belongs in the last part, padded with 0xFFFF after it.
            return null;
        }

        var name = chars[..end];
        return IsValidName(name) ? new string(name) : null;
    }

    private static bool IsValidName(ReadOnlySpan<char> name)
    {
        if (name.Length is 0 or > MaxNameLength || name is "." || name is "..")
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (c < ' ' || "\"*/:<>?\\|\u007F".Contains(c))
            {
                return false;
            }

            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= name.Length || !char.IsLowSurrogate(name[i + 1]))
                {
                    return false;
                }

                i++;
            }
            else if (char.IsLowSurrogate(c))
            {
                return false;
            }
        }

        return true;
    }
}
