using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Cryptsetup;

/// <summary>
/// Real header faults, made the way disks get them: a header written by cryptsetup itself, then a
/// few bytes changed in place. Each fault keeps the LUKS signature and makes libcryptsetup refuse
/// the header with a reason of its own (<see cref="ReasonOf"/>). Offsets from the LUKS1 on-disk
/// format spec 1.2.3 and the LUKS2 on-disk format spec 1.1.1 (big-endian fields).
/// </summary>
public static class DamagedHeaders
{
    public enum Fault
    {
        /// <summary>LUKS1: key slot 0's key material starts at the payload offset (overlaps the data).</summary>
        Luks1KeySlotInPayload,

        /// <summary>LUKS2: the checksums of both binary headers are wrong.</summary>
        Luks2BothChecksums,

        /// <summary>LUKS2: key slot 1's area is moved onto key slot 0's (checksums recomputed, so only the JSON is at fault).</summary>
        Luks2OverlappingKeySlotAreas,
    }

    private const int Luks1PayloadOffsetField = 104;
    private const int Luks1KeyBlocks = 208;
    private const int Luks1KeyBlockBytes = 48;
    private const int Luks1KeyMaterialOffsetField = 40;
    private const int Luks2HeaderSizeField = 8;
    private const int Luks2ChecksumField = 448;
    private const int Luks2ChecksumBytes = 64;
    private const int Luks2BinaryHeaderBytes = 4096;

    public static LuksVersion VersionOf(Fault fault) => fault == Fault.Luks1KeySlotInPayload ? LuksVersion.Luks1 : LuksVersion.Luks2;

    /// <summary>What libcryptsetup 2.6 says about the fault (a part of its message).</summary>
    public static string ReasonOf(Fault fault) => fault switch
    {
        Fault.Luks1KeySlotInPayload => "LUKS keyslot 0 is invalid",
        Fault.Luks2BothChecksums => "LUKS2 header checksum error",
        Fault.Luks2OverlappingKeySlotAreas => "Overlapping areas",
        _ => throw new ArgumentOutOfRangeException(nameof(fault)),
    };

    /// <summary>luksFormat by the cryptsetup program (PBKDF2 at the minimum cost), the key in slot 0 from standard input.</summary>
    public static string FormatWithCryptsetup(TempDirectory directory, string name, LuksVersion version, ReadOnlySpan<byte> key)
    {
        var image = TestImages.CreateEmpty(directory, name, version == LuksVersion.Luks1 ? TestImages.Luks1Bytes : TestImages.Luks2Bytes);
        ToolRunner.Run("cryptsetup",
            [
                "luksFormat", "--batch-mode", "--type", version == LuksVersion.Luks1 ? "luks1" : "luks2", "--key-file=-",
                "--key-slot", "0", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", image,
            ],
            key).EnsureSuccess("cryptsetup luksFormat");
        return image;
    }

    /// <summary>A container formatted by cryptsetup with <paramref name="key"/> in slot 0 (and, for the
    /// overlap, slot 1 too), then damaged; returns its path and the UUID it had before.</summary>
    public static (string Image, string Uuid) Create(TempDirectory directory, Fault fault, ReadOnlySpan<byte> key, string name = "damaged.img")
    {
        var image = FormatWithCryptsetup(directory, name, VersionOf(fault), key);
        if (fault == Fault.Luks2OverlappingKeySlotAreas)
        {
            CryptsetupCli.AddKey(image, key, key, slot: 1);
        }

        var uuid = CryptsetupCli.Uuid(image);
        Apply(image, fault);
        return (image, uuid);
    }

    /// <summary>Applies <paramref name="fault"/> to a container that has key slots 0 and (for the overlap) 1.</summary>
    public static void Apply(string image, Fault fault)
    {
        switch (fault)
        {
            case Fault.Luks1KeySlotInPayload:
                Edit(image, Luks1KeyBlocks + Luks1KeyBlockBytes, header =>
                {
                    var payload = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(Luks1PayloadOffsetField));
                    BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(Luks1KeyBlocks + Luks1KeyMaterialOffsetField), payload);
                });
                break;
            case Fault.Luks2BothChecksums:
                EditLuks2(image, copy => copy[Luks2ChecksumField] ^= 0xff, recomputeChecksums: false);
                break;
            case Fault.Luks2OverlappingKeySlotAreas:
                EditLuks2(image, copy =>
                {
                    var json = JsonArea(copy);
                    var metadata = JsonNode.Parse(json)!;
                    var slotZeroOffset = metadata["keyslots"]!["0"]!["area"]!["offset"]!.GetValue<string>();
                    metadata["keyslots"]!["1"]!["area"]!["offset"] = slotZeroOffset;
                    var edited = Encoding.UTF8.GetBytes(metadata.ToJsonString());
                    var area = copy.AsSpan(Luks2BinaryHeaderBytes);
                    area.Clear();
                    edited.CopyTo(area);
                }, recomputeChecksums: true);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(fault));
        }
    }

    /// <summary>Both LUKS2 header copies (binary header + JSON area each), edited, optionally re-checksummed.</summary>
    private static void EditLuks2(string image, Action<byte[]> edit, bool recomputeChecksums)
    {
        var headerSize = checked((int)ReadBigEndianUInt64(image, Luks2HeaderSizeField));
        foreach (var offset in new[] { 0, headerSize })
        {
            var copy = new byte[headerSize];
            using (var file = File.OpenHandle(image, FileMode.Open, FileAccess.Read))
            {
                Assert.Equal(headerSize, RandomAccess.Read(file, copy, offset));
            }

            edit(copy);
            if (recomputeChecksums)
            {
                // sha256 over the whole copy with the checksum field zeroed (spec 1.1.1, 2.2).
                copy.AsSpan(Luks2ChecksumField, Luks2ChecksumBytes).Clear();
                SHA256.HashData(copy).CopyTo(copy.AsSpan(Luks2ChecksumField));
            }

            using var output = File.OpenHandle(image, FileMode.Open, FileAccess.Write);
            RandomAccess.Write(output, copy, offset);
        }
    }

    private static string JsonArea(byte[] copy)
    {
        var area = copy.AsSpan(Luks2BinaryHeaderBytes);
        var end = area.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? area : area[..end]);
    }

    private static void Edit(string image, int bytes, Action<byte[]> edit)
    {
        var header = new byte[bytes];
        using var file = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite);
        Assert.Equal(bytes, RandomAccess.Read(file, header, 0));
        edit(header);
        RandomAccess.Write(file, header, 0);
    }

    private static ulong ReadBigEndianUInt64(string image, int offset)
    {
        var field = new byte[8];
        using var file = File.OpenHandle(image, FileMode.Open, FileAccess.Read);
        Assert.Equal(8, RandomAccess.Read(file, field, offset));
        return BinaryPrimitives.ReadUInt64BigEndian(field);
    }
}
