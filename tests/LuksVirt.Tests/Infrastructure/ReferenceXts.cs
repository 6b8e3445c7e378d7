using System.Buffers.Binary;
using System.Security.Cryptography;

namespace LuksVirt.Tests.Infrastructure;

/// <summary>
/// XTS-AES (IEEE 1619) built from AES-ECB, independent of OpenSSL's XTS mode, with dm-crypt's
/// plain64 IV as LUKS1 and LUKS2 mappings use it: the tweak of an encryption sector is its byte
/// offset in the payload divided by 512, whatever the sector size (no <c>iv_large_sectors</c>;
/// proven against dm-crypt in the lab, scripts/lab/tests/encrypt-vm-dmcrypt.sh). For tests.
/// </summary>
internal static class ReferenceXts
{
    private const int Block = 16;
    private const int IvSectorBytes = 512;

    /// <summary>One XTS data unit (a whole number of 16-byte blocks) with tweak <paramref name="tweak"/>.</summary>
    public static byte[] EncryptDataUnit(ReadOnlySpan<byte> key, ReadOnlySpan<byte> plaintext, ulong tweak) =>
        Transform(key, plaintext, tweak, plaintext.Length, tweakStep: 0, encrypt: true);

    /// <summary>Whole sectors of a LUKS payload starting <paramref name="payloadOffset"/> bytes
    /// into it, the way dm-crypt encrypts them.</summary>
    public static byte[] EncryptPayload(ReadOnlySpan<byte> key, ReadOnlySpan<byte> plaintext, long payloadOffset, int sectorSize) =>
        Transform(key, plaintext, (ulong)(payloadOffset / IvSectorBytes), sectorSize, (ulong)(sectorSize / IvSectorBytes), encrypt: true);

    public static byte[] DecryptPayload(ReadOnlySpan<byte> key, ReadOnlySpan<byte> ciphertext, long payloadOffset, int sectorSize) =>
        Transform(key, ciphertext, (ulong)(payloadOffset / IvSectorBytes), sectorSize, (ulong)(sectorSize / IvSectorBytes), encrypt: false);

    private static byte[] Transform(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, ulong firstTweak, int unitSize, ulong tweakStep, bool encrypt)
    {
        if (input.Length % unitSize != 0 || unitSize % Block != 0)
        {
            throw new ArgumentException("whole data units of whole blocks only", nameof(input));
        }

        using var data = Aes.Create();
        data.Key = key[..(key.Length / 2)].ToArray();
        using var tweakCipher = Aes.Create();
        tweakCipher.Key = key[(key.Length / 2)..].ToArray();
        var output = new byte[input.Length];
        var tweaks = new byte[unitSize];
        var mixed = new byte[unitSize];
        var done = new byte[unitSize];
        var iv = new byte[Block];
        for (var unit = 0; unit < input.Length / unitSize; unit++)
        {
            Array.Clear(iv);
            BinaryPrimitives.WriteUInt64LittleEndian(iv, firstTweak + ((ulong)unit * tweakStep));
            var tweak = tweakCipher.EncryptEcb(iv, PaddingMode.None);
            for (var j = 0; j < unitSize; j += Block)
            {
                tweak.CopyTo(tweaks, j);
                MultiplyByAlpha(tweak);
            }

            var start = unit * unitSize;
            for (var i = 0; i < unitSize; i++)
            {
                mixed[i] = (byte)(input[start + i] ^ tweaks[i]);
            }

            if (encrypt)
            {
                data.EncryptEcb(mixed, done, PaddingMode.None);
            }
            else
            {
                data.DecryptEcb(mixed, done, PaddingMode.None);
            }

            for (var i = 0; i < unitSize; i++)
            {
                output[start + i] = (byte)(done[i] ^ tweaks[i]);
            }
        }

        return output;
    }

    // Multiplication by x in GF(2^128), little-endian, reduction polynomial x^128 + x^7 + x^2 + x + 1.
    private static void MultiplyByAlpha(byte[] tweak)
    {
        var carry = tweak[Block - 1] >> 7;
        for (var i = Block - 1; i > 0; i--)
        {
            tweak[i] = (byte)((tweak[i] << 1) | (tweak[i - 1] >> 7));
        }

        tweak[0] = (byte)((tweak[0] << 1) ^ (carry * 0x87));
    }
}
