using System.Text;
using LuksVirt.Core.Tang;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Tang;

/// <summary>
/// clevis's LUKS2 token on a real container image (LUKS2 header operations work on a file; no
/// device mapper needed): a slot bound by `clevis luks bind` opens with the passphrase LuksVirt
/// recovers from its token, and a token LuksVirt writes is listed by `clevis luks list` and its
/// passphrase recovered by `clevis luks pass`.
/// </summary>
public sealed class ClevisLuks2TokenTests(TangServer server) : IClassFixture<TangServer>
{
    /// <summary>A test-only passphrase for the images' first slot.</summary>
    private static readonly byte[] FirstKey = Encoding.ASCII.GetBytes("luksvirt-test-only-luks2-first-slot-7c21");

    private string Configuration => $$"""{"url":"{{server.Url}}","thp":"{{server.SigningKeyThumbprint}}"}""";

    [Fact]
    public async Task A_slot_bound_by_clevis_luks_bind_opens_with_the_key_recovered_from_its_token()
    {
        using var directory = new TempDirectory("tang-luks2");
        var (image, firstSlot) = TestImages.Format(directory, LuksVersion.Luks2, FirstKey);
        ToolRunner.Run("clevis", ["luks", "bind", "-y", "-d", image, "-k", "-", "tang", Configuration], FirstKey).EnsureSuccess("clevis luks bind");

        using var device = CryptDevice.Load(image);
        var token = Assert.Single(ClevisLuks2Token.ReadAll(device));
        using var client = new TangClient();
        using var passphrase = await ClevisTangDecrypt.DecryptAsync(token.Jwe, client, CancellationToken.None);

        Assert.NotEqual(firstSlot, token.KeySlot);
        Assert.Equal(token.KeySlot, device.TestKey(passphrase.Span, token.KeySlot));
        Assert.Equal(server.Url, ClevisTangBinding.Read(token.Jwe).Server.Text);
    }

    [Fact]
    public async Task A_token_LuksVirt_writes_is_listed_and_opened_by_clevis_luks()
    {
        using var directory = new TempDirectory("tang-luks2");
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks2, FirstKey);
        using var client = new TangClient();
        var url = TangServerUrl.Parse(server.Url);
        var advertisement = await client.FetchAdvertisementAsync(url, server.SigningKeyThumbprint, CancellationToken.None);
        using var passphrase = SecretBuffer.GeneratePrintableKey();

        int slot;
        using (var device = CryptDevice.Load(image))
        {
            device.SetPbkdf(PbkdfSettings.MinimalPbkdf2);
            slot = device.AddKey(FirstKey, passphrase.Span);
            device.SetTokenJson(-1, ClevisLuks2Token.Format(slot, ClevisTangEncrypt.Encrypt(passphrase, url, advertisement)));
        }

        var listed = ToolRunner.Run("clevis", "luks", "list", "-d", image).EnsureSuccess("clevis luks list").StandardOutput;
        var recovered = ToolRunner.Run("clevis", "luks", "pass", "-d", image, "-s", slot.ToString(System.Globalization.CultureInfo.InvariantCulture)).EnsureSuccess("clevis luks pass").StandardOutput;

        Assert.Contains($"{slot}: tang '{{\"url\":\"{server.Url}\"}}'", listed, StringComparison.Ordinal);
        Assert.Equal(Encoding.ASCII.GetString(passphrase.Span), recovered);
    }

    [Fact]
    public void Tokens_of_other_types_are_not_clevis_bindings()
    {
        Assert.Null(ClevisLuks2Token.Parse(0, """{"type":"systemd-tpm2","keyslots":["1"]}"""));
        Assert.Throws<ClevisJweException>(() => ClevisLuks2Token.Parse(1, """{"type":"clevis","keyslots":["1","2"],"jwe":{}}"""));
    }
}
