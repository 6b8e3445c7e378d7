using System.Text;

namespace LuksVirt.Interop.Cryptsetup;

/// <summary>
/// Reads the fixed binary fields a LUKS header starts with, without libcryptsetup: the magic
/// that says "this is LUKS" and the UUID beside it. When crypt_load refuses a header, this tells
/// a damaged header (the magic is there) from something that never was LUKS (no magic).
/// </summary>
/// <remarks>
/// Layout (LUKS1 on-disk format spec 1.2.3; LUKS2 on-disk format spec 1.1.1): the primary header
/// starts with "LUKS\xba\xbe" and holds the UUID (40 bytes, NUL-padded) at byte 168 in both
/// versions; LUKS2 keeps a second binary header starting with "SKUL\xba\xbe" at one of the
/// offsets below (16 KiB up to 4 MiB, whatever header size the format chose).
/// </remarks>
internal static class LuksHeaderSignature
{
    private const int UuidOffset = 168;
    private const int UuidBytes = 40;

    private static readonly byte[] PrimaryMagic = [(byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xba, 0xbe];
    private static readonly byte[] SecondaryMagic = [(byte)'S', (byte)'K', (byte)'U', (byte)'L', 0xba, 0xbe];
    private static readonly long[] SecondaryOffsets = [0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000];

    /// <summary>What the signature says; <see cref="Uuid"/> is null when the UUID field holds none.</summary>
    internal readonly record struct Found(bool HasMagic, string? Uuid);

    /// <summary>Looks for the primary magic, then for a LUKS2 secondary one. Throws
    /// <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> when the file or
    /// device cannot be read.</summary>
    internal static Found Read(string deviceOrFile)
    {
        using var file = File.OpenHandle(deviceOrFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Span<byte> header = stackalloc byte[UuidOffset + UuidBytes];
        foreach (var (offset, magic) in SecondaryOffsets.Select(o => (o, SecondaryMagic)).Prepend((0L, PrimaryMagic)))
        {
            var read = RandomAccess.Read(file, header, offset);
            if (read >= magic.Length && header[..magic.Length].SequenceEqual(magic))
            {
                return new Found(true, read == header.Length ? UuidOf(header[UuidOffset..]) : null);
            }
        }

        return new Found(false, null);
    }

    /// <summary>The UUID as libcryptsetup reports it, or null when the field is not a UUID
    /// (the damage may have hit it too).</summary>
    private static string? UuidOf(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        var text = Encoding.ASCII.GetString(end < 0 ? field : field[..end]);
        return Guid.TryParseExact(text, "D", out _) ? text : null;
    }
}
