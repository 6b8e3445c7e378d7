using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.Tang.Luks1;

/// <summary>
/// The parts of a LUKS1 header (the on-disk "phdr", cryptsetup's LUKS1 specification) that say
/// where the key material ends and the payload begins: the gap between them is where LUKSMeta
/// lives. Read directly from the container file: big-endian fields at fixed offsets. Nothing here
/// is secret (offsets, key size, stripes).
/// </summary>
internal sealed class Luks1Header
{
    public const int SectorBytes = 512;
    public const int KeySlots = 8;
    private const int Size = 592;
    private const int PayloadOffsetAt = 104;
    private const int KeyBytesAt = 108;
    private const int KeySlotsAt = 208;
    private const int KeySlotBytes = 48;
    private const uint ActiveMarker = 0x00AC71F3;
    private static readonly byte[] Magic = [(byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xBA, 0xBE];

    private Luks1Header(long payloadOffsetBytes, long keyMaterialEnd, bool[] activeSlots)
    {
        PayloadOffsetBytes = payloadOffsetBytes;
        KeyMaterialEnd = keyMaterialEnd;
        ActiveSlots = activeSlots;
    }

    /// <summary>Where the encrypted data begins, in bytes from the start of the container.</summary>
    public long PayloadOffsetBytes { get; }

    /// <summary>The end of the last key slot's key material, in bytes (every slot's area counts,
    /// active or not, as luksmeta counts it: cryptsetup reserves all eight).</summary>
    public long KeyMaterialEnd { get; }

    public IReadOnlyList<bool> ActiveSlots { get; }

    /// <summary>The header of a LUKS1 container, or null when <paramref name="file"/> is not one
    /// (LUKS2, or no LUKS at all).</summary>
    public static Luks1Header? Read(SafeFileHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var bytes = new byte[Size];
        if (RandomAccess.Read(file, bytes, 0) != Size || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic)
            || BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(6)) != 1)
        {
            return null;
        }

        var keyBytes = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(KeyBytesAt));
        var payload = (long)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(PayloadOffsetAt)) * SectorBytes;
        var end = 0L;
        var active = new bool[KeySlots];
        for (var slot = 0; slot < KeySlots; slot++)
        {
            var entry = bytes.AsSpan(KeySlotsAt + (slot * KeySlotBytes), KeySlotBytes);
            active[slot] = BinaryPrimitives.ReadUInt32BigEndian(entry) == ActiveMarker;
            var offset = (long)BinaryPrimitives.ReadUInt32BigEndian(entry[40..]) * SectorBytes;
            var stripes = BinaryPrimitives.ReadUInt32BigEndian(entry[44..]);
            // cryptsetup's AF_split_sectors: key bytes times stripes, rounded up to whole sectors.
            var length = ((((long)keyBytes * stripes) + SectorBytes - 1) / SectorBytes) * SectorBytes;
            end = Math.Max(end, offset + length);
        }

        return new Luks1Header(payload, end, active);
    }
}
