using System.Text.Json;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Cryptsetup;

public sealed class CryptDeviceHeaderTests
{
    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void Header_backup_and_restore_bring_back_the_exact_header_and_a_destroyed_key(LuksVersion version)
    {
        using var directory = new TempDirectory("cs");
        using var keep = SecretBuffer.GeneratePrintableKey();
        using var destroyed = SecretBuffer.FromRandom(64);
        var (image, _) = TestImages.Format(directory, version, keep.Span, slot: 0);
        var backup = directory.PathOf("header.bak");

        using (var device = CryptDevice.Load(image))
        {
            device.SetPbkdf(PbkdfSettings.MinimalPbkdf2);
            Assert.Equal(1, device.AddKey(keep.Span, destroyed.Span, 1));
            device.BackupHeader(backup);
        }

        Assert.True(File.Exists(backup));
        var headerBytes = ReadHeader(image);
        Assert.True(CryptsetupCli.IsLuks(backup, version));

        using (var device = CryptDevice.Load(image))
        {
            device.DestroySlot(1);
        }

        Assert.NotEqual(headerBytes, ReadHeader(image));
        Assert.False(CryptsetupCli.Opens(image, destroyed.Span));

        using (var device = CryptDevice.Load(image))
        {
            device.RestoreHeader(backup);
            // The context carries the restored header straight away.
            Assert.Equal(1, device.TestKey(destroyed.Span));
        }

        Assert.Equal(headerBytes, ReadHeader(image));
        Assert.True(CryptsetupCli.Opens(image, destroyed.Span, 1));
        using var reloaded = CryptDevice.Load(image);
        Assert.Equal(1, reloaded.TestKey(destroyed.Span));
        Assert.Equal(0, reloaded.TestKey(keep.Span));
    }

    [Fact]
    public void Header_backup_refuses_an_existing_file_and_leaves_it_alone()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks1, key.Span);
        var existing = directory.PathOf("existing.bak");
        File.WriteAllBytes(existing, [1, 2, 3]);
        using var device = CryptDevice.Load(image);

        var error = Assert.Throws<CryptsetupException>(() => device.BackupHeader(existing));
        Assert.Equal("crypt_header_backup", error.Function);
        Assert.Contains(existing, error.Message, StringComparison.Ordinal);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(existing));
    }

    [Fact]
    public void Tokens_json_round_trip_on_luks2_and_the_cli_sees_them()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks2, key.Span, slot: 2, pbkdf: TestImages.TinyArgon2id);
        using var device = CryptDevice.Load(image);

        Assert.Null(device.GetTokenJson(0));
        var token = device.SetTokenJson(-1, """{"type":"luksvirt-holder","keyslots":[],"holder":"alice","created":"2024-01-01"}""");
        Assert.Equal(0, token);
        device.AssignTokenToSlot(token, 2);

        using (var read = JsonDocument.Parse(device.GetTokenJson(token)!))
        {
            Assert.Equal("luksvirt-holder", read.RootElement.GetProperty("type").GetString());
            Assert.Equal("alice", read.RootElement.GetProperty("holder").GetString());
            Assert.Equal("2024-01-01", read.RootElement.GetProperty("created").GetString());
            Assert.Equal(["2"], read.RootElement.GetProperty("keyslots").EnumerateArray().Select(slot => slot.GetString()));
        }

        using (var dump = CryptsetupCli.DumpJson(image))
        {
            var stored = dump.RootElement.GetProperty("tokens").GetProperty("0");
            Assert.Equal("alice", stored.GetProperty("holder").GetString());
        }

        Assert.Equal(5, device.SetTokenJson(5, """{"type":"luksvirt-holder","keyslots":[],"holder":"bob"}"""));
        using (var reloaded = CryptDevice.Load(image))
        {
            using var bob = JsonDocument.Parse(reloaded.GetTokenJson(5)!);
            Assert.Equal("bob", bob.RootElement.GetProperty("holder").GetString());
        }

        device.RemoveToken(token);
        Assert.Null(device.GetTokenJson(token));
        using var after = CryptsetupCli.DumpJson(image);
        Assert.False(after.RootElement.GetProperty("tokens").TryGetProperty("0", out _));
        Assert.True(after.RootElement.GetProperty("tokens").TryGetProperty("5", out _));
    }

    [Fact]
    public void Invalid_token_json_is_refused()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks2, key.Span, pbkdf: TestImages.TinyArgon2id);
        using var device = CryptDevice.Load(image);

        var error = Assert.Throws<CryptsetupException>(() => device.SetTokenJson(-1, """{"holder":"no type, no keyslots"}"""));
        Assert.Equal("crypt_token_json_set", error.Function);
        Assert.Null(device.GetTokenJson(0));
    }

    private static byte[] ReadHeader(string image)
    {
        using var device = CryptDevice.Load(image);
        var length = checked((int)(device.DataOffsetSectors * 512));
        var bytes = new byte[length];
        using var file = File.OpenRead(image);
        file.ReadExactly(bytes);
        return bytes;
    }
}
