using System.Buffers.Binary;
using System.Numerics;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.Tang.Luks1;

/// <summary>
/// LUKSMeta (latchset/luksmeta, libluksmeta.c), read and written directly in a LUKS1 container:
/// in the gap between the end of the key material (rounded up to 4 KiB) and the payload, a
/// 272-byte header (magic "LUKSMETA", version 1, CRC-32C of the header, then per key slot a
/// 16-byte UUID, offset and length of its data from the start of the gap, CRC-32C of the data;
/// all big-endian), and each slot's data at its offset, 4 KiB aligned. clevis keeps the compact
/// JWE of a LUKS1 binding there under its own UUID, in the slot of the passphrase it holds.
/// Nothing here is secret: the data is a JWE.
/// </summary>
internal sealed class LuksMeta
{
    public const int Slots = Luks1Header.KeySlots;
    internal const int HeaderBytes = 16 + (Slots * SlotEntryBytes);
    private const int Page = 4096;
    private const int SlotEntryBytes = 32;
    private const int Version = 1;
    private static readonly byte[] Magic = "LUKSMETA"u8.ToArray();

    private readonly LuksMetaSlot?[] _slots;

    private LuksMeta(long gapOffset, long gapLength, LuksMetaSlot?[] slots)
    {
        GapOffset = gapOffset;
        GapLength = gapLength;
        _slots = slots;
    }

    /// <summary>Where the gap begins, in bytes from the start of the container.</summary>
    public long GapOffset { get; }

    /// <summary>The gap's length, whole 4 KiB pages.</summary>
    public long GapLength { get; }

    public IReadOnlyList<LuksMetaSlot?> SlotEntries => _slots;

    /// <summary>
    /// Whether a LUKS1 container can hold LUKSMeta (a header page and at least one page of data
    /// between the key material and the payload), and whether it already does. For `doctor` and
    /// `keys list`: clevis cannot bind a LUKS1 container without this room.
    /// </summary>
    public static LuksMetaRoom DescribeRoom(SafeFileHandle file)
    {
        var header = Luks1Header.Read(file);
        if (header is null)
        {
            return LuksMetaRoom.NotLuks1;
        }

        var (_, length) = Gap(header);
        if (length < 2 * Page)
        {
            return LuksMetaRoom.NoRoom;
        }

        return TryRead(file, header) is null ? LuksMetaRoom.RoomNotInitialized : LuksMetaRoom.Initialized;
    }

    /// <summary>The LUKSMeta of a LUKS1 container; null when the container is not LUKS1 or has no
    /// (valid) LUKSMeta header. A slot's data whose checksum fails throws <see cref="InvalidDataException"/>.</summary>
    public static LuksMeta? Read(SafeFileHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return Luks1Header.Read(file) is { } header ? TryRead(file, header) : null;
    }

    /// <summary>The data of <paramref name="slot"/>, checked against its CRC-32C.</summary>
    public byte[] Load(SafeFileHandle file, int slot)
    {
        var entry = _slots[slot] ?? throw new InvalidOperationException($"LUKSMeta slot {slot} is empty");
        var data = new byte[entry.Length];
        if (RandomAccess.Read(file, data, GapOffset + entry.Offset) != data.Length || Crc32C(data) != entry.Checksum)
        {
            throw new InvalidDataException($"the data of LUKSMeta slot {slot} does not match its checksum: the header area was damaged or altered");
        }

        return data;
    }

    /// <summary>Writes an empty LUKSMeta header, as <c>luksmeta init</c> does; refuses when the
    /// container has no room or already has one.</summary>
    public static LuksMeta Initialize(SafeFileHandle file)
    {
        var header = Luks1Header.Read(file) ?? throw new InvalidOperationException("the container is not LUKS1: LUKSMeta lives only in LUKS1 containers");
        var (offset, length) = Gap(header);
        if (length < 2 * Page)
        {
            throw new InvalidOperationException($"the LUKS1 container has {length} bytes between its key material and its payload; LUKSMeta needs at least {2 * Page}");
        }

        if (TryRead(file, header) is not null)
        {
            throw new InvalidOperationException("the LUKS1 container already has a LUKSMeta header");
        }

        var meta = new LuksMeta(offset, length, new LuksMetaSlot?[Slots]);
        meta.WriteHeader(file);
        return meta;
    }

    /// <summary>
    /// Stores <paramref name="data"/> under <paramref name="uuid"/> in the empty
    /// <paramref name="slot"/>, at the first free 4 KiB-aligned place after the header, as
    /// luksmeta_save does: the data first, then the header that points to it.
    /// </summary>
    public void Save(SafeFileHandle file, int slot, ReadOnlySpan<byte> uuid, ReadOnlySpan<byte> data)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, Slots);
        if (uuid.Length != 16 || !uuid.ContainsAnyExcept((byte)0))
        {
            throw new ArgumentException("a LUKSMeta UUID is 16 bytes, not all zero", nameof(uuid));
        }

        if (_slots[slot] is not null)
        {
            throw new InvalidOperationException($"LUKSMeta slot {slot} is in use");
        }

        Place(file, slot, uuid, data);
    }

    /// <summary>
    /// Replaces the data of the used <paramref name="slot"/> without a moment in which the slot
    /// holds neither: the new data goes to a free place first (never over the old), then the
    /// header is rewritten to point to it (one write of 272 bytes, inside one 512-byte sector),
    /// and only then is the old data zeroed. A crash before the header write leaves the old data
    /// in force (the new bytes sit in unused space); after it, the new.
    /// </summary>
    public void Replace(SafeFileHandle file, int slot, ReadOnlySpan<byte> uuid, ReadOnlySpan<byte> data)
    {
        var old = _slots[slot] ?? throw new InvalidOperationException($"LUKSMeta slot {slot} is empty: nothing to replace");
        if (!old.Uuid.AsSpan().SequenceEqual(uuid))
        {
            throw new InvalidOperationException($"LUKSMeta slot {slot} belongs to another UUID");
        }

        Place(file, slot, uuid, data);
        RandomAccess.Write(file, new byte[old.Length], GapOffset + old.Offset);
        RandomAccess.FlushToDisk(file);
    }

    /// <summary>The data at the first free place (never over another slot's), flushed, and only
    /// then the header that points <paramref name="slot"/> to it.</summary>
    private void Place(SafeFileHandle file, int slot, ReadOnlySpan<byte> uuid, ReadOnlySpan<byte> data)
    {
        var offset = FindGap(data.Length);
        RandomAccess.Write(file, data, GapOffset + offset);
        RandomAccess.FlushToDisk(file);
        _slots[slot] = new LuksMetaSlot(uuid.ToArray(), offset, (uint)data.Length, Crc32C(data));
        WriteHeader(file);
    }

    /// <summary>Zeroes <paramref name="slot"/>'s data and clears its entry, as luksmeta_wipe does.</summary>
    public void Wipe(SafeFileHandle file, int slot)
    {
        var entry = _slots[slot] ?? throw new InvalidOperationException($"LUKSMeta slot {slot} is already empty");
        RandomAccess.Write(file, new byte[entry.Length], GapOffset + entry.Offset);
        _slots[slot] = null;
        WriteHeader(file);
    }

    /// <summary>CRC-32C (Castagnoli) with the usual pre- and post-inversion, as luksmeta's crc32c.c.</summary>
    internal static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = uint.MaxValue;
        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }

    private static (long Offset, long Length) Gap(Luks1Header header)
    {
        var hole = AlignUp(header.KeyMaterialEnd);
        var data = header.PayloadOffsetBytes;
        if (data < Page || hole >= data)
        {
            return (hole, 0);
        }

        return (hole, (data - hole) & ~(long)(Page - 1));
    }

    private static LuksMeta? TryRead(SafeFileHandle file, Luks1Header header)
    {
        var (offset, length) = Gap(header);
        if (length < Page)
        {
            return null;
        }

        var bytes = new byte[HeaderBytes];
        if (RandomAccess.Read(file, bytes, offset) != HeaderBytes || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic)
            || BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(8)) != Version)
        {
            return null;
        }

        var checksum = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(12));
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(12), 0);
        if (Crc32C(bytes) != checksum)
        {
            return null;
        }

        var maxLength = length - Page;
        var slots = new LuksMetaSlot?[Slots];
        for (var slot = 0; slot < Slots; slot++)
        {
            var entry = bytes.AsSpan(16 + (slot * SlotEntryBytes), SlotEntryBytes);
            var uuid = entry[..16];
            if (!uuid.ContainsAnyExcept((byte)0))
            {
                continue;
            }

            var dataOffset = BinaryPrimitives.ReadUInt32BigEndian(entry[16..]);
            var dataLength = BinaryPrimitives.ReadUInt32BigEndian(entry[20..]);
            if (dataOffset <= HeaderBytes || dataLength > maxLength || dataOffset + (long)dataLength > length)
            {
                throw new InvalidDataException($"LUKSMeta slot {slot} points outside the gap: the header area was damaged or altered");
            }

            slots[slot] = new LuksMetaSlot(uuid.ToArray(), dataOffset, dataLength, BinaryPrimitives.ReadUInt32BigEndian(entry[24..]));
        }

        return new LuksMeta(offset, length, slots);
    }

    /// <summary>The first page-aligned offset after the header page where <paramref name="size"/>
    /// bytes overlap no slot's data: luksmeta's find_gap.</summary>
    private uint FindGap(int size)
    {
        var pages = AlignUp(size);
        for (long offset = Page; offset + pages <= GapLength; offset += Page)
        {
            var end = offset + pages;
            if (!_slots.Any(s => s is not null && s.Offset < end && offset < s.Offset + (long)s.Length))
            {
                return (uint)offset;
            }
        }

        throw new InvalidOperationException($"the LUKSMeta area ({GapLength} bytes) has no room left for {size} bytes");
    }

    private void WriteHeader(SafeFileHandle file)
    {
        var bytes = new byte[HeaderBytes];
        Magic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), Version);
        for (var slot = 0; slot < Slots; slot++)
        {
            if (_slots[slot] is not { } entry)
            {
                continue;
            }

            var target = bytes.AsSpan(16 + (slot * SlotEntryBytes), SlotEntryBytes);
            entry.Uuid.CopyTo(target);
            BinaryPrimitives.WriteUInt32BigEndian(target[16..], entry.Offset);
            BinaryPrimitives.WriteUInt32BigEndian(target[20..], entry.Length);
            BinaryPrimitives.WriteUInt32BigEndian(target[24..], entry.Checksum);
        }

        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(12), Crc32C(bytes));
        RandomAccess.Write(file, bytes, GapOffset);
        RandomAccess.FlushToDisk(file);
    }

    private static long AlignUp(long value) => (value + Page - 1) & ~(long)(Page - 1);
}

/// <summary>One used LUKSMeta slot: whose data it is (UUID), where (from the gap's start) and its CRC-32C.</summary>
internal sealed record LuksMetaSlot(byte[] Uuid, uint Offset, uint Length, uint Checksum);

/// <summary>Whether a container can hold clevis's LUKS1 bindings.</summary>
internal enum LuksMetaRoom
{
    /// <summary>LUKS2 (bindings are tokens) or not LUKS.</summary>
    NotLuks1,

    /// <summary>LUKS1 with no room between key material and payload: clevis cannot bind it.</summary>
    NoRoom,

    /// <summary>Room, but no LUKSMeta header yet (written on the first bind).</summary>
    RoomNotInitialized,

    Initialized,
}
