using System.Buffers.Binary;
using System.Security.Cryptography;
using LuksVirt.Core.Bench;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Bench;

/// <summary>The benchmark images are real LUKS1 containers and qemu-io really encrypts through
/// them: the cryptsetup CLI accepts the key, and the sectors qemu-io wrote decrypt to the written
/// pattern with the container's volume key (AES-XTS done here with .NET's AES, an implementation
/// independent of QEMU's). The kernel here cannot map the container, so the CLI cannot read the
/// data itself.</summary>
[Collection(SerialBenchMeasurements.Name)]
public sealed class QemuLuksImageTests
{
    private const int SectorBytes = 512;
    private const byte Pattern = 0x5a;

    [Fact]
    public async Task Data_qemu_io_writes_through_the_luks_driver_decrypts_with_the_volume_key()
    {
        using var directory = new TempDirectory("bench");
        using var key = SecretBuffer.GeneratePrintableKey();
        var image = directory.PathOf("aes.luks");
        var cipher = new BenchCipher("aes", "xts-plain64", 512);

        var creator = await ThrowawayLuksImage.CreateAsync(image, cipher, 1 << 20, key, CancellationToken.None);
        var write = await QemuToolProcess.RunAsync("qemu-io",
            ["--object", QemuToolProcess.SecretObjectArgument, "--image-opts", QemuLuksThroughput.ImageOptions(image, luks: true), "-c", "write -P 0x5a 0 1M"],
            key, CancellationToken.None);

        Assert.Equal(LuksImageCreator.Libcryptsetup, creator);
        Assert.True(write.Succeeded, write.StandardError);
        Assert.True(CryptsetupCli.IsLuks(image, LuksVersion.Luks1));
        Assert.True(CryptsetupCli.Opens(image, key.Span));

        using var device = CryptDevice.Load(image);
        Assert.Equal(("aes", "xts-plain64", 64), (device.Cipher, device.CipherMode, device.VolumeKeyBytes));
        using var volumeKey = device.GetVolumeKey(key.Span);
        var dataOffset = (long)device.DataOffsetSectors * SectorBytes;
        using var file = File.OpenHandle(image);
        foreach (var sector in new long[] { 0, 1, 2047 })
        {
            var ciphertext = new byte[SectorBytes];
            Assert.Equal(SectorBytes, RandomAccess.Read(file, ciphertext, dataOffset + (sector * SectorBytes)));
            Assert.False(ciphertext.All(b => b == Pattern), $"sector {sector} is stored in plaintext");

            var plaintext = DecryptXtsPlain64Sector(volumeKey.Span, sector, ciphertext);

            Assert.All(plaintext, b => Assert.Equal(Pattern, b));
        }
    }

    /// <summary>IEEE P1619 XTS-AES decryption of one sector with the plain64 IV (the sector
    /// number, little-endian) as tweak: the two halves of the volume key are the data key and the
    /// tweak key.</summary>
    private static byte[] DecryptXtsPlain64Sector(ReadOnlySpan<byte> volumeKey, long sector, byte[] ciphertext)
    {
        using var dataAes = Aes.Create();
        using var tweakAes = Aes.Create();
        dataAes.SetKey(volumeKey[..(volumeKey.Length / 2)]);
        tweakAes.SetKey(volumeKey[(volumeKey.Length / 2)..]);

        Span<byte> tweak = stackalloc byte[16];
        tweak.Clear();
        BinaryPrimitives.WriteInt64LittleEndian(tweak, sector);
        tweakAes.EncryptEcb(tweak, tweak, PaddingMode.None);

        var plaintext = new byte[ciphertext.Length];
        Span<byte> block = stackalloc byte[16];
        for (var offset = 0; offset < ciphertext.Length; offset += 16)
        {
            for (var i = 0; i < 16; i++)
            {
                block[i] = (byte)(ciphertext[offset + i] ^ tweak[i]);
            }

            dataAes.DecryptEcb(block, block, PaddingMode.None);
            for (var i = 0; i < 16; i++)
            {
                plaintext[offset + i] = (byte)(block[i] ^ tweak[i]);
            }

            MultiplyByAlpha(tweak);
        }

        return plaintext;
    }

    // Multiplication by x in GF(2^128) with the little-endian convention of XTS.
    private static void MultiplyByAlpha(Span<byte> tweak)
    {
        var carry = 0;
        for (var i = 0; i < 16; i++)
        {
            var next = tweak[i] >> 7;
            tweak[i] = (byte)((tweak[i] << 1) | carry);
            carry = next;
        }

        if (carry != 0)
        {
            tweak[0] ^= 0x87;
        }
    }
}
