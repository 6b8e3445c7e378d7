using System.Text;
using LuksVirt.Core.Tang;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Tang;

/// <summary>
/// One coordinator for a run of many bindings against real tangd: all recoveries run at once,
/// each says which server answered, a silent server shared by every sss binding is awaited by
/// none of them, and a refused server is asked once, then remembered.
/// </summary>
public sealed class TangRecoveryCoordinatorTests(TwoTangServers servers) : IClassFixture<TwoTangServers>
{
    private static readonly byte[] TestKey = Encoding.ASCII.GetBytes("luksvirt-test-only-coordinator-key-51ab");

    private TangServer A => servers.First;

    private TangServer B => servers.Second;

    [Fact]
    public async Task Many_sss_bindings_sharing_a_silent_server_all_open_in_parallel_without_awaiting_it()
    {
        using var silent = CannedHttpServer.NeverAnswering();
        var advertisement = A.FetchAdvertisementWithCurl();
        var configuration = $$$"""{"t":2,"pins":{"tang":[{"url":"{{{silent.Url}}}","adv":{{{advertisement}}}},{{{Tang(A)}}},{{{Tang(B)}}}]}}""";
        var bindings = Enumerable.Range(0, 5).Select(_ => ClevisJwe.ParseCompact(ClevisEncrypt("sss", configuration))).ToList();

        using var coordinator = new TangRecoveryCoordinator(TimeSpan.FromMinutes(2));
        var results = await Task.WhenAll(bindings.Select(jwe => coordinator.RecoverAsync(jwe, CancellationToken.None)));
        try
        {
            Assert.All(results, result =>
            {
                Assert.Equal(TestKey, result.Key.Span.ToArray());
                Assert.Equal([A.Url, B.Url], result.AnsweringServers);
                Assert.Equal(TangPinOutcome.NotAwaited, Assert.Single(result.Pins, p => p.Server == silent.Url).Outcome);
            });
            Assert.Empty(coordinator.FailedServers);
        }
        finally
        {
            foreach (var result in results)
            {
                result.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_refused_server_is_asked_once_and_named_for_every_later_binding_of_the_run()
    {
        var advertisement = A.FetchAdvertisementWithCurl();
        var refusing = $"http://127.0.0.1:{TangServer.FreePort()}";
        var first = ClevisJwe.ParseCompact(ClevisEncrypt("tang", $$$"""{"url":"{{{refusing}}}","adv":{{{advertisement}}}}"""));
        var second = ClevisJwe.ParseCompact(ClevisEncrypt("tang", $$$"""{"url":"{{{refusing}}}","adv":{{{advertisement}}}}"""));
        var live = ClevisJwe.ParseCompact(ClevisEncrypt("tang", Tang(B)));

        using var coordinator = new TangRecoveryCoordinator();
        var firstFailure = await Assert.ThrowsAsync<TangServerUnreachableException>(() => coordinator.RecoverAsync(first, CancellationToken.None));
        var secondFailure = await Assert.ThrowsAsync<TangServerUnreachableException>(() => coordinator.RecoverAsync(second, CancellationToken.None));
        using var opened = await coordinator.RecoverAsync(live, CancellationToken.None);

        Assert.DoesNotContain("earlier in this run", firstFailure.Message, StringComparison.Ordinal);
        Assert.Contains("earlier in this run", secondFailure.Message, StringComparison.Ordinal);
        Assert.Contains(refusing, secondFailure.Message, StringComparison.Ordinal);
        Assert.Equal([refusing], coordinator.FailedServers.Keys);
        Assert.Equal([B.Url], opened.AnsweringServers);
        Assert.Equal(TestKey, opened.Key.Span.ToArray());
    }

    [Fact]
    public async Task A_pin_this_host_cannot_evaluate_is_named()
    {
        var jwe = ClevisJwe.ParseCompact(ClevisEncrypt("null", "{}"));

        using var coordinator = new TangRecoveryCoordinator();
        var failure = await Assert.ThrowsAsync<UnsupportedClevisPinException>(() => coordinator.RecoverAsync(jwe, CancellationToken.None));

        Assert.Equal("null", failure.Pin);
    }

    private static string Tang(TangServer server) => $$"""{"url":"{{server.Url}}","thp":"{{server.SigningKeyThumbprint}}"}""";

    private static string ClevisEncrypt(string pin, string configuration) =>
        ToolRunner.Run("clevis", ["encrypt", pin, configuration], TestKey).EnsureSuccess($"clevis encrypt {pin}").StandardOutput;
}
