using System.Text;
using LuksVirt.Core.Tang;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Tang;

/// <summary>
/// Both directions against the real tools, with a real Tang server: what `clevis encrypt tang`
/// writes, LuksVirt opens; what LuksVirt writes, `clevis decrypt` opens. jose (Debian's) is the
/// witness for thumbprints and for the JWE's two serializations.
/// </summary>
public sealed class ClevisTangInteropTests(TangServer server) : IClassFixture<TangServer>
{
    /// <summary>A test-only key; printable because clevis hands it back on standard output.</summary>
    private const string TestKeyText = "luksvirt-test-only-tang-key-4f1c9e2b7a";

    private static byte[] TestKey => Encoding.ASCII.GetBytes(TestKeyText);

    private TangServerUrl Url => TangServerUrl.Parse(server.Url);

    [Fact]
    public async Task A_jwe_from_clevis_encrypt_with_an_advertisement_file_opens_with_the_same_key()
    {
        using var directory = new TempDirectory("tang");
        var advertisementFile = directory.PathOf("adv.jws");
        await File.WriteAllTextAsync(advertisementFile, server.FetchAdvertisementWithCurl());
        var jwe = ClevisEncrypt($$"""{"url":"{{server.Url}}","adv":"{{advertisementFile}}"}""");

        using var client = new TangClient();
        using var key = await ClevisTangDecrypt.DecryptAsync(ClevisJwe.ParseCompact(jwe), client, CancellationToken.None);

        Assert.Equal(TestKey, key.Span.ToArray());
    }

    [Fact]
    public async Task A_jwe_from_clevis_encrypt_with_a_thumbprint_opens_and_names_the_exchange_key_as_jose_does()
    {
        var jwe = ClevisJwe.ParseCompact(ClevisEncrypt($$"""{"url":"{{server.Url}}","thp":"{{server.SigningKeyThumbprint}}"}"""));

        var binding = ClevisTangBinding.Read(jwe);
        using var client = new TangClient();
        using var key = await ClevisTangDecrypt.DecryptAsync(jwe, client, CancellationToken.None);

        Assert.Equal(TestKey, key.Span.ToArray());
        Assert.Equal(server.ExchangeKeyThumbprint, binding.KeyId);
        Assert.Equal(server.Url, binding.Server.Text);
    }

    [Fact]
    public async Task A_jwe_from_ClevisTangEncrypt_is_opened_by_clevis_decrypt()
    {
        using var client = new TangClient();
        var advertisement = await client.FetchAdvertisementAsync(Url, server.SigningKeyThumbprint, CancellationToken.None);
        using var key = SecretBuffer.CopyOf(TestKey);

        var jwe = ClevisTangEncrypt.Encrypt(key, Url, advertisement).ToCompact();
        var decrypted = ToolRunner.Run("clevis", ["decrypt"], Encoding.ASCII.GetBytes(jwe)).EnsureSuccess("clevis decrypt");

        Assert.Equal(TestKeyText, decrypted.StandardOutput);
        Assert.DoesNotContain(TestKeyText, jwe, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_header_LuksVirt_writes_has_the_members_clevis_writes_and_the_kid_jose_computes()
    {
        using var client = new TangClient();
        var advertisement = await client.FetchAdvertisementAsync(Url, server.SigningKeyThumbprint, CancellationToken.None);
        using var key = SecretBuffer.CopyOf(TestKey);

        var ours = ClevisTangEncrypt.Encrypt(key, Url, advertisement).Header;
        var clevis = ClevisJwe.ParseCompact(ClevisEncrypt($$"""{"url":"{{server.Url}}","thp":"{{server.SigningKeyThumbprint}}"}""")).Header;

        Assert.Equal(clevis.Alg, ours.Alg);
        Assert.Equal(clevis.Enc, ours.Enc);
        Assert.Equal(clevis.Kid, ours.Kid);
        Assert.Equal(server.ExchangeKeyThumbprint, ours.Kid);
        Assert.Equal(clevis.Clevis?.Pin, ours.Clevis?.Pin);
        Assert.Equal(clevis.Clevis?.Tang?.Url, ours.Clevis?.Tang?.Url);
        Assert.Equal(clevis.Clevis?.Tang?.Adv?.GetRawText(), ours.Clevis?.Tang?.Adv?.GetRawText());
        Assert.Equal(clevis.Epk?.Crv, ours.Epk?.Crv);
    }

    [Fact]
    public async Task The_flattened_form_of_a_LUKS2_token_converts_both_ways_as_jose_converts_it()
    {
        var compact = ClevisEncrypt($$"""{"url":"{{server.Url}}","thp":"{{server.SigningKeyThumbprint}}"}""");
        var flattenedByJose = ToolRunner.Run("jose", ["jwe", "fmt", "-i-"], Encoding.ASCII.GetBytes(compact)).EnsureSuccess("jose jwe fmt").StandardOutput;

        using var json = System.Text.Json.JsonDocument.Parse(flattenedByJose);
        var jwe = ClevisJwe.ParseFlattened(json.RootElement);
        var ourFlattened = System.Text.Json.JsonSerializer.Serialize(jwe.ToFlattened(), JoseJsonContext.Default.JweDocument);
        var compactByJose = ToolRunner.Run("jose", ["jwe", "fmt", "-i-", "-c"], Encoding.ASCII.GetBytes(ourFlattened)).EnsureSuccess("jose jwe fmt -c").StandardOutput;
        using var client = new TangClient();
        using var key = await ClevisTangDecrypt.DecryptAsync(jwe, client, CancellationToken.None);

        Assert.Equal(compact, jwe.ToCompact());
        Assert.Equal(compact, compactByJose.Trim());
        Assert.Equal(TestKey, key.Span.ToArray());
    }

    [Fact]
    public async Task Every_byte_value_survives_encrypt_and_decrypt()
    {
        using var client = new TangClient();
        var advertisement = await client.FetchAdvertisementAsync(Url, server.SigningKeyThumbprint, CancellationToken.None);
        var bytes = Enumerable.Range(0, 512).Select(i => (byte)i).ToArray();
        using var key = SecretBuffer.CopyOf(bytes);

        var jwe = ClevisTangEncrypt.Encrypt(key, Url, advertisement).ToCompact();
        using var decrypted = await ClevisTangDecrypt.DecryptAsync(ClevisJwe.ParseCompact(jwe), client, CancellationToken.None);

        Assert.Equal(bytes, decrypted.Span.ToArray());
    }

    private string ClevisEncrypt(string configuration) =>
        ToolRunner.Run("clevis", ["encrypt", "tang", configuration], TestKey).EnsureSuccess($"clevis encrypt tang (socat log: {server.Log})").StandardOutput;
}
