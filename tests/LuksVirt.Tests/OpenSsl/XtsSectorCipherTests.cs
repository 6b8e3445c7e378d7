using System.Security.Cryptography;
using LuksVirt.Interop.OpenSsl;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.OpenSsl;

/// <summary>
/// The payload cipher of encrypt-vm against a reference XTS built from AES-ECB. The tweak of a
/// sector is its 512-byte position in the payload even for 4096-byte sectors: that is what
/// dm-crypt decrypts a LUKS2 mapping with (a 4096-byte-unit tweak made every sector after the
/// first unreadable for the guest; found in the lab).
/// </summary>
public sealed class XtsSectorCipherTests
{
    [Fact]
    public void The_reference_gives_ieee_1619_vector_1()
    {
        // XTS-AES-128, both keys zero, data unit 0, 32 zero bytes (OpenSSL refuses equal halves).
        var ciphertext = ReferenceXts.EncryptDataUnit(new byte[32], new byte[32], 0);

        Assert.Equal("917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e", Convert.ToHexStringLower(ciphertext));
    }

    [Theory]
    [InlineData(512, 32)]
    [InlineData(512, 64)]
    [InlineData(1024, 64)]
    [InlineData(4096, 64)]
    [InlineData(4096, 32)]
    public void Sectors_are_tweaked_by_their_512_byte_position_in_the_payload(int sectorSize, int keyBytes)
    {
        var key = RandomNumberGenerator.GetBytes(keyBytes);
        var plaintext = RandomNumberGenerator.GetBytes(3 * sectorSize);
        var payloadOffset = 5L * sectorSize;
        var ciphertext = new byte[plaintext.Length];

        using (var encryptor = XtsSectorCipher.CreateEncryptor(key))
        {
            encryptor.Transform(plaintext, ciphertext, payloadOffset, sectorSize);
        }

        Assert.Equal(ReferenceXts.EncryptPayload(key, plaintext, payloadOffset, sectorSize), ciphertext);
        using var decryptor = XtsSectorCipher.CreateDecryptor(key);
        decryptor.Transform(ciphertext, ciphertext, payloadOffset, sectorSize);
        Assert.Equal(plaintext, ciphertext);
    }

    [Fact]
    public void A_4096_byte_sector_is_one_data_unit_with_tweak_8_per_sector()
    {
        var key = RandomNumberGenerator.GetBytes(64);
        var plaintext = RandomNumberGenerator.GetBytes(4096);
        var ciphertext = new byte[4096];
        using var encryptor = XtsSectorCipher.CreateEncryptor(key);

        encryptor.Transform(plaintext, ciphertext, payloadOffset: 4096, sectorSize: 4096);

        Assert.Equal(ReferenceXts.EncryptDataUnit(key, plaintext, 8), ciphertext);
    }

    [Theory]
    [InlineData(512L, 4096)]
    [InlineData(-4096L, 4096)]
    [InlineData(100L, 512)]
    public void A_payload_offset_inside_a_sector_is_refused(long payloadOffset, int sectorSize)
    {
        using var encryptor = XtsSectorCipher.CreateEncryptor(RandomNumberGenerator.GetBytes(64));
        var data = new byte[sectorSize];

        Assert.Throws<ArgumentOutOfRangeException>(() => encryptor.Transform(data, data, payloadOffset, sectorSize));
    }
}
