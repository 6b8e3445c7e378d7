using System.Text;
using System.Text.Json;
using LuksVirt.Core.Tang;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Tang;

/// <summary>Two real Tang servers for the sss tests; the third server of each test is a fake
/// (silent or answering garbage) made by the test itself.</summary>
public sealed class TwoTangServers : IDisposable
{
    public TangServer First { get; } = new();

    public TangServer Second { get; } = new();

    public void Dispose()
    {
        First.Dispose();
        Second.Dispose();
    }
}

/// <summary>
/// The sss pin against real tangd servers and the real clevis CLI: t=2 of 3 with one server
/// that accepts and never answers (its packets as good as dropped) completes from the two live
/// ones without awaiting it; garbage and unreachable servers are reported by URL and remembered
/// for the run; clevis and LuksVirt open each other's sss JWEs, nested and with a pin LuksVirt
/// cannot evaluate.
/// </summary>
public sealed class SssTests(TwoTangServers servers) : IClassFixture<TwoTangServers>
{
    private const string TestKeyText = "luksvirt-test-only-sss-key-8d2e61f0c4";

    /// <summary>Long enough that a recovery which waited for the silent server would report it
    /// as failed (timed out) instead of not awaited: the assertion is on the outcome.</summary>
    private static readonly TimeSpan PatientTimeout = TimeSpan.FromMinutes(2);

    private static byte[] TestKey => Encoding.ASCII.GetBytes(TestKeyText);

    private TangServer A => servers.First;

    private TangServer B => servers.Second;

    [Fact]
    public async Task Our_sss_jwe_with_a_silent_third_server_opens_from_the_two_live_ones_without_awaiting_it()
    {
        using var silent = CannedHttpServer.NeverAnswering();
        using var directory = new TempDirectory("sss");
        var advertisementFile = directory.PathOf("adv.jws");
        await File.WriteAllTextAsync(advertisementFile, A.FetchAdvertisementWithCurl());
        var configuration = $$$"""{"t":2,"pins":{"tang":[{{{Tang(A)}}},{"url":"{{{silent.Url}}}","adv":"{{{advertisementFile}}}"},{{{Tang(B)}}}]}}""";
        using var client = new TangClient();
        using var key = SecretBuffer.CopyOf(TestKey);
        using var document = JsonDocument.Parse(configuration);
        var jwe = await SssEncrypt.EncryptAsync(key, document.RootElement, client, CancellationToken.None);

        using var coordinator = new TangRecoveryCoordinator(PatientTimeout);
        using var result = await coordinator.RecoverAsync(jwe, CancellationToken.None);

        Assert.Equal(TestKey, result.Key.Span.ToArray());
        Assert.Equal([A.Url, B.Url], result.AnsweringServers);
        var silentReport = Assert.Single(result.Pins, p => p.Server == silent.Url);
        Assert.Equal(TangPinOutcome.NotAwaited, silentReport.Outcome);
        Assert.Empty(coordinator.FailedServers);
        Assert.DoesNotContain(TestKeyText, jwe.ToCompact(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_jwe_from_clevis_encrypt_sss_with_a_silent_server_opens_from_the_two_live_ones()
    {
        using var silent = CannedHttpServer.NeverAnswering();
        var jwe = ClevisEncryptSss($$$"""{"t":2,"pins":{"tang":[{"url":"{{{silent.Url}}}","adv":{{{A.FetchAdvertisementWithCurl()}}}},{"url":"{{{A.Url}}}","thp":"{{{A.SigningKeyThumbprint}}}"},{"url":"{{{B.Url}}}","thp":"{{{B.SigningKeyThumbprint}}}"}]}}""");

        using var coordinator = new TangRecoveryCoordinator(PatientTimeout);
        using var result = await coordinator.RecoverAsync(ClevisJwe.ParseCompact(jwe), CancellationToken.None);

        Assert.Equal(TestKey, result.Key.Span.ToArray());
        Assert.Equal([A.Url, B.Url], result.AnsweringServers);
        Assert.Equal(TangPinOutcome.NotAwaited, Assert.Single(result.Pins, p => p.Server == silent.Url).Outcome);
        Assert.Equal("sss", ClevisJwe.ParseCompact(jwe).Header.Clevis?.Pin);
    }

    [Fact]
    public async Task Our_nested_sss_jwe_is_opened_by_clevis_decrypt()
    {
        var configuration = $$$"""{"t":2,"pins":{"tang":{{{Tang(A)}}},"sss":{{{NestedSss(B)}}}}}""";
        using var client = new TangClient();
        using var key = SecretBuffer.CopyOf(TestKey);
        using var document = JsonDocument.Parse(configuration);
        var jwe = (await SssEncrypt.EncryptAsync(key, document.RootElement, client, CancellationToken.None)).ToCompact();

        var decrypted = ToolRunner.Run("clevis", ["decrypt"], Encoding.ASCII.GetBytes(jwe)).EnsureSuccess("clevis decrypt");

        Assert.Equal(TestKeyText, decrypted.StandardOutput);
    }

    [Fact]
    public async Task A_clevis_sss_jwe_with_a_nested_sss_and_a_pin_LuksVirt_cannot_evaluate_opens_and_names_that_pin()
    {
        // clevis's "null" pin stands for any pin this host cannot evaluate (tpm2 without a TPM).
        var jwe = ClevisEncryptSss($$$"""{"t":2,"pins":{"null":{},"tang":{{{Tang(A)}}},"sss":{{{NestedSss(B)}}}}}""");

        using var coordinator = new TangRecoveryCoordinator();
        using var result = await coordinator.RecoverAsync(ClevisJwe.ParseCompact(jwe), CancellationToken.None);

        Assert.Equal(TestKey, result.Key.Span.ToArray());
        var unsupported = Assert.Single(result.Pins, p => p.Outcome == TangPinOutcome.Unsupported);
        Assert.Equal("null", unsupported.Pin);
        Assert.Equal([A.Url, B.Url], result.AnsweringServers);
        Assert.Contains(result.Pins, p => p.Server == B.Url && p.Path == "jwe.sss.jwe[2].sss.jwe[0]");
    }

    [Fact]
    public async Task Too_few_shares_fail_naming_each_server_and_the_failed_servers_are_not_asked_again_in_the_run()
    {
        using var silent = CannedHttpServer.NeverAnswering();
        using var garbage = CannedHttpServer.Answering(200, "OK", "{\"this is\": \"not a key\"}");
        var advertisement = A.FetchAdvertisementWithCurl();
        var jwe = ClevisEncryptSss($$$"""{"t":2,"pins":{"tang":[{"url":"{{{A.Url}}}","thp":"{{{A.SigningKeyThumbprint}}}"},{"url":"{{{garbage.Url}}}","adv":{{{advertisement}}}},{"url":"{{{silent.Url}}}","adv":{{{advertisement}}}}]}}""");
        var silentOnly = ToolRunner.Run("clevis", ["encrypt", "tang", $$$"""{"url":"{{{silent.Url}}}","adv":{{{advertisement}}}}"""], TestKey).EnsureSuccess("clevis encrypt tang").StandardOutput;

        using var coordinator = new TangRecoveryCoordinator(TimeSpan.FromSeconds(1));
        var failure = await Assert.ThrowsAsync<SssThresholdException>(() => coordinator.RecoverAsync(ClevisJwe.ParseCompact(jwe), CancellationToken.None));
        var again = await Assert.ThrowsAsync<TangServerUnreachableException>(() => coordinator.RecoverAsync(ClevisJwe.ParseCompact(silentOnly), CancellationToken.None));

        Assert.Equal(TangPinOutcome.Recovered, Assert.Single(failure.Pins, p => p.Server == A.Url).Outcome);
        Assert.Equal(TangPinOutcome.Failed, Assert.Single(failure.Pins, p => p.Server == garbage.Url).Outcome);
        Assert.Equal(TangPinOutcome.Failed, Assert.Single(failure.Pins, p => p.Server == silent.Url).Outcome);
        Assert.Contains(garbage.Url, failure.Message, StringComparison.Ordinal);
        Assert.Contains(silent.Url, failure.Message, StringComparison.Ordinal);
        Assert.Equal(new[] { garbage.Url, silent.Url }.Order(StringComparer.Ordinal), coordinator.FailedServers.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("earlier in this run", again.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_header_LuksVirt_writes_has_the_members_clevis_writes()
    {
        var configuration = $$$"""{"t":2,"pins":{"tang":[{{{Tang(A)}}},{{{Tang(B)}}}]}}""";
        using var client = new TangClient();
        using var key = SecretBuffer.CopyOf(TestKey);
        using var document = JsonDocument.Parse(configuration);

        var ours = await SssEncrypt.EncryptAsync(key, document.RootElement, client, CancellationToken.None);
        var clevis = ClevisJwe.ParseCompact(ClevisEncryptSss(configuration));

        Assert.Equal(Members(clevis), Members(ours));
        Assert.Equal(clevis.Header.Alg, ours.Header.Alg);
        Assert.Equal(clevis.Header.Enc, ours.Header.Enc);
        Assert.Equal(clevis.Header.Clevis?.Sss?.T, ours.Header.Clevis?.Sss?.T);
        Assert.Equal(clevis.Header.Clevis?.Sss?.P?.Length, ours.Header.Clevis?.Sss?.P?.Length);
        Assert.Equal(
            clevis.Header.Clevis?.Sss?.Jwe?.Select(s => ClevisTangBinding.Read(ClevisJwe.ParseCompact(s)).Server.Text),
            ours.Header.Clevis?.Sss?.Jwe?.Select(s => ClevisTangBinding.Read(ClevisJwe.ParseCompact(s)).Server.Text));
    }

    [Fact]
    public async Task An_sss_jwe_whose_ciphertext_was_altered_is_refused()
    {
        var jwe = ClevisJwe.ParseCompact(ClevisEncryptSss($$$"""{"t":1,"pins":{"tang":[{"url":"{{{A.Url}}}","thp":"{{{A.SigningKeyThumbprint}}}"}]}}"""));
        jwe.Ciphertext[0] ^= 1;

        using var coordinator = new TangRecoveryCoordinator();
        await Assert.ThrowsAsync<ClevisJweException>(() => coordinator.RecoverAsync(jwe, CancellationToken.None));
    }

    /// <summary>The protected header's member names, nested ones as paths, in their written order.</summary>
    private static string[] Members(ClevisJwe jwe)
    {
        using var header = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(jwe.ProtectedSegment));
        return [.. Walk(header.RootElement, string.Empty)];

        static IEnumerable<string> Walk(JsonElement element, string prefix) =>
            element.ValueKind != JsonValueKind.Object
                ? []
                : element.EnumerateObject().SelectMany(p => Walk(p.Value, $"{prefix}{p.Name}.").Prepend(prefix + p.Name));
    }

    private static string Tang(TangServer server) => $$"""{"url":"{{server.Url}}","thp":"{{server.SigningKeyThumbprint}}"}""";

    private static string NestedSss(TangServer server) => $$$"""{"t":1,"pins":{"tang":[{{{Tang(server)}}}]}}""";

    private static string ClevisEncryptSss(string configuration) =>
        ToolRunner.Run("clevis", ["encrypt", "sss", configuration], TestKey).EnsureSuccess("clevis encrypt sss").StandardOutput;
}
