using System.Globalization;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Cryptsetup;

public sealed class CryptDeviceFormatTests
{
    [Fact]
    public void Format_luks1_is_a_luks1_container_the_cli_opens_with_the_key_in_the_chosen_slot()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (image, slot) = TestImages.Format(directory, LuksVersion.Luks1, key.Span, slot: 3);

        Assert.Equal(3, slot);
        Assert.True(CryptsetupCli.IsLuks(image, LuksVersion.Luks1));
        Assert.False(CryptsetupCli.IsLuks(image, LuksVersion.Luks2));
        Assert.True(CryptsetupCli.Opens(image, key.Span, 3));

        using var device = CryptDevice.Load(image);
        Assert.Equal(image, device.DevicePath);
        Assert.Equal(LuksVersion.Luks1, device.Version);
        Assert.Equal("aes", device.Cipher);
        Assert.Equal("xts-plain64", device.CipherMode);
        Assert.Equal(64, device.VolumeKeyBytes);
        Assert.Equal(8, device.KeySlotCount);
        Assert.Equal(CryptsetupCli.Uuid(image), device.Uuid);
        Assert.True(device.DataOffsetSectors > 0);
        Assert.True(device.DataOffsetSectors * 512 < TestImages.Luks1Bytes);
    }

    [Fact]
    public void Format_luks2_with_argon2id_writes_the_metadata_cryptsetup_reads_back()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (image, slot) = TestImages.Format(directory, LuksVersion.Luks2, key.Span, slot: 7, pbkdf: TestImages.TinyArgon2id, volumeKeyBytes: 32);

        Assert.Equal(7, slot);
        Assert.True(CryptsetupCli.IsLuks(image, LuksVersion.Luks2));
        Assert.True(CryptsetupCli.Opens(image, key.Span, 7));

        using var device = CryptDevice.Load(image);
        Assert.Equal(LuksVersion.Luks2, device.Version);
        Assert.Equal(32, device.KeySlotCount);
        Assert.Equal(32, device.VolumeKeyBytes);
        Assert.Equal(CryptsetupCli.Uuid(image), device.Uuid);

        using var dump = CryptsetupCli.DumpJson(image);
        var keyslot = dump.RootElement.GetProperty("keyslots").GetProperty("7");
        Assert.Equal(32, keyslot.GetProperty("key_size").GetInt32());
        var kdf = keyslot.GetProperty("kdf");
        Assert.Equal("argon2id", kdf.GetProperty("type").GetString());
        Assert.Equal(4, kdf.GetProperty("time").GetInt32());
        Assert.Equal(32, kdf.GetProperty("memory").GetInt32());
        Assert.Equal(1, kdf.GetProperty("cpus").GetInt32());
        var segment = dump.RootElement.GetProperty("segments").GetProperty("0");
        Assert.Equal("aes-xts-plain64", segment.GetProperty("encryption").GetString());
        var offsetBytes = ulong.Parse(segment.GetProperty("offset").GetString()!, CultureInfo.InvariantCulture);
        Assert.Equal(offsetBytes / 512, device.DataOffsetSectors);
        // Default LUKS2 header (2 x 16 KiB metadata + keyslot area) is 16 MiB.
        Assert.Equal(16UL << 20, offsetBytes);
    }

    [Fact]
    public void Minimal_pbkdf2_gives_slots_exactly_1000_iterations()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        using var second = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks2, key.Span, slot: 0, pbkdf: PbkdfSettings.MinimalPbkdf2);

        using (var device = CryptDevice.Load(image))
        {
            device.SetPbkdf(PbkdfSettings.MinimalPbkdf2);
            Assert.Equal(1, device.AddKey(key.Span, second.Span, 1));
        }

        using var dump = CryptsetupCli.DumpJson(image);
        foreach (var slot in new[] { "0", "1" })
        {
            var kdf = dump.RootElement.GetProperty("keyslots").GetProperty(slot).GetProperty("kdf");
            Assert.Equal("pbkdf2", kdf.GetProperty("type").GetString());
            Assert.Equal("sha256", kdf.GetProperty("hash").GetString());
            Assert.Equal(1000, kdf.GetProperty("iterations").GetInt32());
        }
    }

    [Fact]
    public void A_binary_key_works_for_format_and_for_the_cli()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.FromRandom(64);
        var (image, slot) = TestImages.Format(directory, LuksVersion.Luks1, key.Span);

        Assert.Equal(0, slot);
        Assert.True(CryptsetupCli.Opens(image, key.Span, 0));
        using var device = CryptDevice.Load(image);
        Assert.Equal(0, device.TestKey(key.Span));
    }

    [Fact]
    public void Load_of_a_zero_filled_file_throws_NotLuksException_and_IsLuks_is_false()
    {
        using var directory = new TempDirectory("cs");
        var image = TestImages.CreateEmpty(directory, "zero.img", TestImages.Luks1Bytes);

        var error = Assert.Throws<NotLuksException>(() => CryptDevice.Load(image));
        Assert.Equal("crypt_load", error.Function);
        Assert.Contains(image, error.Message, StringComparison.Ordinal);
        Assert.False(CryptDevice.IsLuks(image));
        Assert.False(CryptsetupCli.IsLuks(image, LuksVersion.Luks1));
    }

    [Fact]
    public void IsLuks_is_true_for_both_versions()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (luks1, _) = TestImages.Format(directory, LuksVersion.Luks1, key.Span);
        var (luks2, _) = TestImages.Format(directory, LuksVersion.Luks2, key.Span);

        Assert.True(CryptDevice.IsLuks(luks1));
        Assert.True(CryptDevice.IsLuks(luks2));
    }

    [Fact]
    public void A_missing_file_is_a_CryptsetupException_naming_the_path_not_a_NotLuksException()
    {
        using var directory = new TempDirectory("cs");
        var missing = directory.PathOf("missing.img");

        var error = Assert.Throws<CryptsetupException>(() => CryptDevice.Load(missing));
        Assert.IsNotType<NotLuksException>(error);
        Assert.Equal("crypt_init", error.Function);
        Assert.True(error.Errno > 0);
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.Throws<CryptsetupException>(() => CryptDevice.IsLuks(missing));
    }

    [Fact]
    public void Properties_of_an_unformatted_context_throw_InvalidOperationException()
    {
        using var directory = new TempDirectory("cs");
        var image = TestImages.CreateEmpty(directory, "blank.img", TestImages.Luks1Bytes);
        using var device = CryptDevice.Open(image);

        Assert.Throws<InvalidOperationException>(() => device.Version);
        Assert.Throws<InvalidOperationException>(() => device.Uuid);
    }

    [Fact]
    public void A_disposed_device_throws_ObjectDisposedException()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks1, key.Span);
        var device = CryptDevice.Load(image);
        device.Dispose();

        Assert.Throws<ObjectDisposedException>(() => device.TestKey(key.Span));
        device.Dispose();
    }
}
