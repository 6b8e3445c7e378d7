using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LuksVirt.Core.Tang;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Tang;

/// <summary>
/// What must not give a key: an advertisement whose signature or content was altered, a server
/// not signed by the trusted key, a server that is down, silent, redirecting, oversized or not a
/// Tang server, a JWE for another server, a JWE altered. Each is refused with its own exception
/// and a message that says what to do; none returns a key.
/// </summary>
public sealed class TangRefusalTests(TangServer server) : IClassFixture<TangServer>
{
    private const string TestKeyText = "luksvirt-test-only-tang-key-refusals-91d3";

    private TangServerUrl Url => TangServerUrl.Parse(server.Url);

    [Fact]
    public void An_advertisement_with_an_altered_signature_is_refused()
    {
        var advertisement = JsonNode.Parse(server.FetchAdvertisementWithCurl())!.AsObject();
        var signature = Base64Url.DecodeFromChars((string)advertisement["signature"]!);
        signature[10] ^= 0x01;
        advertisement["signature"] = Base64Url.EncodeToString(signature);

        var refusal = Assert.Throws<TangAdvertisementException>(() => TangAdvertisement.Parse(Encoding.UTF8.GetBytes(advertisement.ToJsonString()), server.Url));

        Assert.Contains("is not signed by its signing key", refusal.Message, StringComparison.Ordinal);
        Assert.Contains(server.SigningKeyThumbprint, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_advertisement_with_a_key_swapped_in_is_refused()
    {
        // Someone in the middle replaces the exchange key by their own: the signature over the
        // payload no longer verifies.
        var advertisement = JsonNode.Parse(server.FetchAdvertisementWithCurl())!.AsObject();
        var keySet = JsonNode.Parse(Base64Url.DecodeFromChars((string)advertisement["payload"]!))!.AsObject();
        var other = JsonNode.Parse(ToolRunner.Run("jose", "jwk", "gen", "-i", """{"alg":"ECMR"}""").EnsureSuccess("jose jwk gen").StandardOutput)!.AsObject();
        other.Remove("d");
        foreach (var key in keySet["keys"]!.AsArray())
        {
            if (key!["key_ops"]!.AsArray().Any(op => (string?)op == "deriveKey"))
            {
                key["x"] = (string)other["x"]!;
                key["y"] = (string)other["y"]!;
            }
        }

        advertisement["payload"] = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(keySet.ToJsonString()));

        Assert.Throws<TangAdvertisementException>(() => TangAdvertisement.Parse(Encoding.UTF8.GetBytes(advertisement.ToJsonString()), server.Url));
    }

    [Fact]
    public async Task A_server_whose_keys_do_not_have_the_trusted_thumbprint_is_refused()
    {
        using var other = new TangServer();
        using var client = new TangClient();

        // The thumbprint of this fixture's signing key, but the other server's URL.
        var fetched = await Assert.ThrowsAsync<TangUntrustedAdvertisementException>(() => client.FetchAdvertisementAsync(TangServerUrl.Parse(other.Url), server.SigningKeyThumbprint, CancellationToken.None));
        var advertisement = await client.FetchAdvertisementAsync(TangServerUrl.Parse(other.Url), trustedThumbprint: null, CancellationToken.None);
        var checkedAfterwards = Assert.Throws<TangUntrustedAdvertisementException>(() => advertisement.RequireSignedBy(server.SigningKeyThumbprint, other.Url));

        Assert.Contains("trusted thumbprint", fetched.Message, StringComparison.Ordinal);
        Assert.Contains(other.SigningKeyThumbprint, checkedAfterwards.Message, StringComparison.Ordinal);
        Assert.True(advertisement.IsSignedBy(other.SigningKeyThumbprint));
    }

    [Fact]
    public async Task A_server_that_is_down_gives_no_key_and_says_it_cannot_be_reached()
    {
        string jwe;
        using (var doomed = new TangServer())
        {
            jwe = await EncryptForAsync(doomed.Url, doomed.SigningKeyThumbprint);
            doomed.Stop();
        }

        using var client = new TangClient();
        var refusal = await Assert.ThrowsAsync<TangServerUnreachableException>(() => ClevisTangDecrypt.DecryptAsync(ClevisJwe.ParseCompact(jwe), client, CancellationToken.None));

        Assert.Contains("could not be reached", refusal.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(TestKeyText, refusal.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_never_answers_is_given_up_after_the_timeout()
    {
        using var silent = CannedHttpServer.NeverAnswering();
        using var client = new TangClient(TimeSpan.FromSeconds(1));

        var refusal = await Assert.ThrowsAsync<TangServerUnreachableException>(() => client.FetchAdvertisementAsync(TangServerUrl.Parse(silent.Url), null, CancellationToken.None));

        Assert.Contains("did not answer", refusal.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(200, "OK", "this is not json", "", nameof(TangAdvertisementException), "not JSON")]
    [InlineData(302, "Found", "", "Location: http://203.0.113.7/adv\r\n", nameof(TangProtocolException), "redirects are not followed")]
    [InlineData(500, "Internal Server Error", "", "", nameof(TangProtocolException), "HTTP 500")]
    public async Task A_server_that_is_not_Tang_is_refused_with_what_it_did(int status, string reason, string body, string headers, string refusalType, string expected)
    {
        using var impostor = CannedHttpServer.Answering(status, reason, body, headers);
        using var client = new TangClient();

        var refusal = await Assert.ThrowsAnyAsync<TangException>(() => client.FetchAdvertisementAsync(TangServerUrl.Parse(impostor.Url), null, CancellationToken.None));

        Assert.Equal(refusalType, refusal.GetType().Name);
        Assert.Contains(expected, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_whose_tls_certificate_is_not_trusted_is_refused_before_anything_is_read()
    {
        using var tls = TangServer.WithSelfSignedTls();
        using var client = new TangClient();

        var refusal = await Assert.ThrowsAsync<TangServerUnreachableException>(() => client.FetchAdvertisementAsync(TangServerUrl.Parse(tls.Url), tls.SigningKeyThumbprint, CancellationToken.None));
        // The same server, certificate unchecked by curl, serves a good advertisement: the
        // refusal is the certificate's.
        var advertisement = TangAdvertisement.Parse(Encoding.UTF8.GetBytes(tls.FetchAdvertisementWithCurl()), tls.Url);

        Assert.Contains("TLS", refusal.Message, StringComparison.Ordinal);
        Assert.True(advertisement.IsSignedBy(tls.SigningKeyThumbprint));
    }

    [Fact]
    public async Task An_oversized_reply_is_refused()
    {
        using var flood = CannedHttpServer.Answering(200, "OK", new string('x', TangClient.MaxReplyBytes + 1));
        using var client = new TangClient();

        var refusal = await Assert.ThrowsAsync<TangProtocolException>(() => client.FetchAdvertisementAsync(TangServerUrl.Parse(flood.Url), null, CancellationToken.None));

        Assert.Contains($"more than {TangClient.MaxReplyBytes} bytes", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_jwe_made_for_another_server_is_refused_by_the_server_it_is_sent_to()
    {
        using var other = new TangServer();
        var jwe = ClevisJwe.ParseCompact(await EncryptForAsync(server.Url, server.SigningKeyThumbprint));
        var redirected = RewriteUrl(jwe, other.Url);

        using var client = new TangClient();
        var refusal = await Assert.ThrowsAsync<TangKeyNotFoundException>(() => ClevisTangDecrypt.DecryptAsync(redirected, client, CancellationToken.None));

        Assert.Contains(other.Url, refusal.Message, StringComparison.Ordinal);
        Assert.Contains("another server", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_altered_jwe_gives_no_key()
    {
        var jwe = ClevisJwe.ParseCompact(await EncryptForAsync(server.Url, server.SigningKeyThumbprint));
        var ciphertext = jwe.Ciphertext.ToArray();
        ciphertext[0] ^= 0x01;
        var altered = ClevisJwe.Create(jwe.ProtectedSegment, jwe.Header, jwe.Iv, ciphertext, jwe.Tag);

        using var client = new TangClient();
        var refusal = await Assert.ThrowsAsync<ClevisJweException>(() => ClevisTangDecrypt.DecryptAsync(altered, client, CancellationToken.None));

        Assert.Contains("does not open the JWE", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_jwe_for_another_pin_is_refused_by_name()
    {
        // What `clevis encrypt sss` writes is not a tang JWE: LuksVirt says which pin it is.
        var config = $$$"""{"t":1,"pins":{"tang":[{"url":"{{{server.Url}}}","thp":"{{{server.SigningKeyThumbprint}}}"}]}}""";
        var sss = ToolRunner.Run("clevis", ["encrypt", "sss", config], Encoding.ASCII.GetBytes(TestKeyText)).EnsureSuccess("clevis encrypt sss").StandardOutput;

        var refusal = Assert.Throws<ClevisJweException>(() => ClevisTangBinding.Read(ClevisJwe.ParseCompact(sss)));

        Assert.Contains("'sss'", refusal.Message, StringComparison.Ordinal);
    }

    private static async Task<string> EncryptForAsync(string url, string thumbprint)
    {
        using var client = new TangClient();
        var advertisement = await client.FetchAdvertisementAsync(TangServerUrl.Parse(url), thumbprint, CancellationToken.None);
        using var key = SecretBuffer.CopyOf(Encoding.ASCII.GetBytes(TestKeyText));
        return ClevisTangEncrypt.Encrypt(key, TangServerUrl.Parse(url), advertisement).ToCompact();
    }

    /// <summary>The same JWE with clevis.tang.url changed (the tag then no longer matches, but the
    /// server is asked first, and refuses).</summary>
    private static ClevisJwe RewriteUrl(ClevisJwe jwe, string url)
    {
        var header = JsonSerializer.Deserialize(JsonSerializer.Serialize(jwe.Header, JoseJsonContext.Default.ClevisJweHeaderDocument), JoseJsonContext.Default.ClevisJweHeaderDocument)!;
        header.Clevis!.Tang!.Url = url;
        return ClevisJwe.Create(ClevisJwe.EncodeProtectedHeader(header), header, jwe.Iv, jwe.Ciphertext, jwe.Tag);
    }
}
