using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.Tang;

/// <summary>
/// Reads LUKSMeta, the metadata latchset's luksmeta keeps in a LUKS1 header's gap (between the
/// end of the last key slot's material, rounded up to 4 KiB, and the payload), where clevis puts
/// its bindings on LUKS1: one JWE per LUKS key slot, in the LUKSMeta slot of the same number, typed
/// with clevis's UUID. Read only, checked as luksmeta checks it (magic, version, CRC-32C of the
/// header and of each slot's data, bounds inside the gap).
/// </summary>
internal static class LuksMetaSlots
{
    /// <summary>The UUID clevis types its LUKSMeta slots with (clevis-luks-common-functions).</summary>
    public static readonly Guid ClevisUuid = Guid.Parse("cb6e8904-81ff-40da-a84a-07ab9ab5715e");

    private const int Alignment = 4096;
    private const int SlotCount = 8;
    private const int SlotBytes = 16 + 4 + 4 + 4 + 4;
    private const int HeaderBytes = 8 + 4 + 4 + (SlotCount * SlotBytes);
    private static readonly byte[] Magic = "LUKSMETA"u8.ToArray();

    /// <summary>The data of every LUKSMeta slot typed with <paramref name="type"/>, by slot
    /// number; empty when the container is not LUKS1 or its gap holds no LUKSMeta. A LUKSMeta
    /// area that is there but damaged throws <see cref="InvalidDataException"/>.</summary>
    public static IReadOnlyList<(int Slot, byte[] Data)> Read(CryptDevice device, string containerPath, Guid type)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (Gap(device) is not { } gap)
        {
            return [];
        }

        using var file = new FileStream(containerPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1);
        var header = new byte[HeaderBytes];
        file.Position = (long)gap.Start;
        file.ReadExactly(header);
        if (!header.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            return [];
        }

        if (BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8)) != 1)
        {
            throw new InvalidDataException($"{containerPath}: LUKSMeta of an unknown version");
        }

        var storedChecksum = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12));
        header.AsSpan(12, 4).Clear();
        if (Crc32C(header) != storedChecksum)
        {
            throw new InvalidDataException($"{containerPath}: the LUKSMeta header's checksum does not match (damaged)");
        }

        var found = new List<(int, byte[])>();
        for (var slot = 0; slot < SlotCount; slot++)
        {
            var entry = header.AsSpan(16 + (slot * SlotBytes), SlotBytes);
            if (ReadUuid(entry[..16]) != type)
            {
                continue;
            }

            var offset = BinaryPrimitives.ReadUInt32BigEndian(entry[16..]);
            var length = BinaryPrimitives.ReadUInt32BigEndian(entry[20..]);
            var checksum = BinaryPrimitives.ReadUInt32BigEndian(entry[24..]);
            if (offset < HeaderBytes || (ulong)offset + length > gap.Length)
            {
                throw new InvalidDataException($"{containerPath}: LUKSMeta slot {slot} points outside the header's gap (damaged)");
            }

            var data = new byte[length];
            file.Position = (long)gap.Start + offset;
            file.ReadExactly(data);
            if (Crc32C(data) != checksum)
            {
                throw new InvalidDataException($"{containerPath}: LUKSMeta slot {slot}'s checksum does not match (damaged)");
            }

            found.Add((slot, data));
        }

        return found;
    }

    /// <summary>The clevis JWEs (compact serialisation) by LUKS key slot.</summary>
    public static IReadOnlyList<(int Slot, string CompactJwe)> ReadClevis(CryptDevice device, string containerPath) =>
        [.. Read(device, containerPath, ClevisUuid).Select(s => (s.Slot, Encoding.ASCII.GetString(s.Data).TrimEnd('\n')))];

    /// <summary>Whether a LUKS1 container has room for LUKSMeta (and so for clevis bindings).</summary>
    public static bool HasRoom(CryptDevice device) => Gap(device) is { Length: >= Alignment };

    /// <summary>The gap as luksmeta computes it: from the end of the furthest key slot's material,
    /// rounded up to 4 KiB, to the payload (rounded down); null on LUKS2 or without a gap.</summary>
    private static (ulong Start, ulong Length)? Gap(CryptDevice device)
    {
        if (device.Version != LuksVersion.Luks1)
        {
            return null;
        }

        var payload = device.DataOffsetSectors * 512;
        ulong end = 0;
        for (var slot = 0; slot < SlotCount; slot++)
        {
            var (offset, length) = device.GetSlotArea(slot);
            end = Math.Max(end, AlignUp(offset + length));
        }

        return end == 0 || end >= payload ? null : (end, (payload - end) & ~(ulong)(Alignment - 1));
    }

    private static ulong AlignUp(ulong value) => (value + Alignment - 1) & ~(ulong)(Alignment - 1);

    /// <summary>luksmeta stores the UUID's 16 bytes in RFC 4122 (big-endian) order.</summary>
    private static Guid ReadUuid(ReadOnlySpan<byte> bytes) => new(bytes, bigEndian: true);

    /// <summary>CRC-32C (Castagnoli) with the usual inversions, as luksmeta's crc32c(0, ...).</summary>
    private static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = uint.MaxValue;
        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }
}
