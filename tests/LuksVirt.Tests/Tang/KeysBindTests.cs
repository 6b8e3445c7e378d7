using System.Globalization;
using System.Text;
using System.Text.Json;
using LuksVirt.Core.Tang;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Containers;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Tang;

/// <summary>
/// <c>luksvirt keys bind|unbind|rebind</c> run as a process against real Tang servers, with
/// Debian's clevis as the witness: what LuksVirt binds, <c>clevis luks list</c> lists and
/// <c>clevis luks pass</c> recovers, and the recovered passphrase opens its slot in cryptsetup;
/// what it unbinds is gone for clevis too; a rebind after a key rotation names the new key and
/// still opens. Refusals leave every header byte as it was.
/// </summary>
public sealed class KeysBindTests(TwoTangServers servers) : IClassFixture<TwoTangServers>
{
    private TangServer Server => servers.First;

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void A_tang_binding_is_listed_by_clevis_and_the_passphrase_clevis_recovers_opens_its_slot(LuksVersion version)
    {
        using var container = TestContainer.Create(version);

        var bind = Bind(container, "tang", Pin(Server), "--holder", "network");

        Assert.True(bind.ExitCode == 0, bind.StandardError);
        var report = ContainerCli.Json(bind);
        Assert.Equal(1, report.GetProperty("slot").GetInt32());
        Assert.Equal(("tang", Server.Url), (report.GetProperty("pin").GetProperty("pin").GetString(), report.GetProperty("pin").GetProperty("url").GetString()));
        Assert.Matches($$"""(?m)^1: tang '\{"url":"{{Escape(Server.Url)}}"\}'$""", ClevisLuksList(container));
        using var passphrase = ClevisLuksPass(container, 1);
        Assert.True(CryptsetupCli.Opens(container.Image, passphrase.Span, 1));
        Assert.False(TestImages.Contains(bind.StandardOutput + bind.StandardError, passphrase));

        var list = ContainerCli.Json(ContainerCli.Keys(container, "list", ["--json"]));
        var binding = Assert.Single(list.GetProperty("bindings").EnumerateArray());
        Assert.Equal(1, binding.GetProperty("slot").GetInt32());
        Assert.Equal(Server.Url, binding.GetProperty("pin").GetProperty("url").GetString());
        Assert.Contains(list.GetProperty("slots").EnumerateArray(), s => s.GetProperty("slot").GetInt32() == 1 && s.GetProperty("holder").GetString() == "network");
    }

    [Fact]
    public void The_bound_key_is_in_no_file_after_the_bind()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);

        var bind = Bind(container, "tang", Pin(Server));

        Assert.True(bind.ExitCode == 0, bind.StandardError);
        // The witness: clevis recovers the key LuksVirt generated, after the run.
        using var key = new TestKey("bound", ClevisLuksPass(container, 1));
        Assert.Empty(new KeyLeakScanner([key]).ScanFiles(KeyLeakScanner.HostRoots, new HashSet<string>()));
    }

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void An_sss_binding_needing_both_servers_is_listed_with_its_threshold_and_opens_through_clevis(LuksVersion version)
    {
        using var container = TestContainer.Create(version);
        var configuration = $$$"""{"t":2,"pins":{"tang":[{{{Pin(servers.First)}}},{{{Pin(servers.Second)}}}]}}""";

        var bind = Bind(container, "sss", configuration);

        Assert.True(bind.ExitCode == 0, bind.StandardError);
        var listed = ClevisLuksList(container);
        Assert.Matches("""(?m)^1: sss '\{"t":2,"pins":\{"tang":\[""", listed);
        Assert.Contains(servers.First.Url, listed, StringComparison.Ordinal);
        Assert.Contains(servers.Second.Url, listed, StringComparison.Ordinal);
        using var passphrase = ClevisLuksPass(container, 1);
        Assert.True(CryptsetupCli.Opens(container.Image, passphrase.Span, 1));

        var human = ContainerCli.Keys(container, "list", []);
        Assert.Equal(0, human.ExitCode);
        Assert.Contains($"sss 2 of [tang {servers.First.Url}, tang {servers.Second.Url}]", human.StandardOutput.ReplaceLineEndings(string.Empty), StringComparison.Ordinal);
        var pin = Assert.Single(ContainerCli.Json(ContainerCli.Keys(container, "list", ["--json"])).GetProperty("bindings").EnumerateArray()).GetProperty("pin");
        Assert.Equal(2, pin.GetProperty("threshold").GetInt32());
        Assert.Equal([servers.First.Url, servers.Second.Url], pin.GetProperty("pins").EnumerateArray().Select(p => p.GetProperty("url").GetString()));
    }

    [Theory]
    [InlineData(LuksVersion.Luks1, false)]
    [InlineData(LuksVersion.Luks2, true)]
    public void Unbind_removes_the_binding_and_its_slot_for_clevis_too(LuksVersion version, bool withKeyFile)
    {
        using var container = TestContainer.Create(version);
        Assert.Equal(0, Bind(container, "tang", Pin(Server)).ExitCode);

        var unbind = ContainerCli.Keys(container, "unbind", ["--slot", "1", "--json", .. withKeyFile ? new[] { "--key-file", container.AdminKeyFile } : []]);

        Assert.True(unbind.ExitCode == 0, unbind.StandardError);
        Assert.Equal(1, ContainerCli.Json(unbind).GetProperty("slot").GetInt32());
        Assert.Equal(string.Empty, ClevisLuksList(container).Trim());
        using var device = CryptDevice.Load(container.Image);
        Assert.Equal(KeySlotState.Inactive, device.GetSlotState(1));
        Assert.Empty(ContainerCli.Json(ContainerCli.Keys(container, "list", ["--json"])).GetProperty("bindings").EnumerateArray());
    }

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void Rebind_after_a_key_rotation_names_the_new_exchange_key_and_clevis_still_opens_the_slot(LuksVersion version)
    {
        using var rotating = new TangServer();
        using var container = TestContainer.Create(version);
        Assert.Equal(0, Bind(container, "tang", Pin(rotating)).ExitCode);
        using var before = ClevisLuksPass(container, 1);
        var newExchangeKey = Rotate(rotating);

        // No --yes and no terminal: the old signing key vouches for the new advertisement.
        var rebind = ContainerCli.Keys(container, "rebind", ["--slot", "1", "--json"]);

        Assert.True(rebind.ExitCode == 0, rebind.StandardError);
        var report = ContainerCli.Json(rebind);
        Assert.Equal([rotating.ExchangeKeyThumbprint], report.GetProperty("oldKeyIds").EnumerateArray().Select(k => k.GetString()));
        Assert.Equal([newExchangeKey], report.GetProperty("newKeyIds").EnumerateArray().Select(k => k.GetString()));
        Assert.Equal(newExchangeKey, ClevisJwe.ParseCompact(StoredJwe(container, 1)).Header.Kid);
        using var after = ClevisLuksPass(container, 1);
        Assert.True(before.ContentEquals(after));
        Assert.True(CryptsetupCli.Opens(container.Image, after.Span, 1));
        Assert.Matches($"(?m)^1: tang ", ClevisLuksList(container));
    }

    [Fact]
    public void A_rebind_whose_new_advertisement_no_former_key_signed_is_refused_without_yes()
    {
        using var rotating = new TangServer();
        using var container = TestContainer.Create(LuksVersion.Luks2);
        Assert.Equal(0, Bind(container, "tang", Pin(rotating)).ExitCode);
        var newExchangeKey = Rotate(rotating);
        // The old exchange key still answers recoveries; the old signing key is gone, so nothing
        // vouches for the new advertisement.
        File.Delete(Path.Combine(rotating.KeyDirectory, ".sig.jwk"));
        var header = container.ReadHeader();

        var refused = ContainerCli.Keys(container, "rebind", ["--slot", "1"]);

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--yes", refused.StandardError, StringComparison.Ordinal);
        Assert.Equal(header, container.ReadHeader());

        var confirmed = ContainerCli.Keys(container, "rebind", ["--slot", "1", "--yes", "--json"]);

        Assert.True(confirmed.ExitCode == 0, confirmed.StandardError);
        Assert.Equal(newExchangeKey, ClevisJwe.ParseCompact(StoredJwe(container, 1)).Header.Kid);
        using var passphrase = ClevisLuksPass(container, 1);
        Assert.True(CryptsetupCli.Opens(container.Image, passphrase.Span, 1));
    }

    [Fact]
    public void A_key_that_opens_nothing_is_refused_before_any_change()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        var wrongKey = container.Directory.PathOf("wrong.key");
        File.WriteAllText(wrongKey, "not-the-key");
        var header = container.ReadHeader();

        var bind = BindWithKey(container, wrongKey, "tang", Pin(Server));

        Assert.Equal(1, bind.ExitCode);
        Assert.Contains("Nothing was changed", bind.StandardError, StringComparison.Ordinal);
        Assert.Equal(header, container.ReadHeader());
    }

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void A_thumbprint_the_server_does_not_sign_with_is_refused_and_nothing_changes(LuksVersion version)
    {
        using var container = TestContainer.Create(version);
        var header = container.ReadHeader();

        // The exchange key's thumbprint is a real key of the server, but not a signing key.
        var bind = Bind(container, "tang", $$"""{"url":"{{Server.Url}}","thp":"{{Server.ExchangeKeyThumbprint}}"}""");

        Assert.Equal(1, bind.ExitCode);
        Assert.Contains("nothing was changed", bind.StandardError, StringComparison.Ordinal);
        Assert.Equal(header, container.ReadHeader());
    }

    [Fact]
    public void An_unreachable_server_is_named_and_nothing_changes()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        var header = container.ReadHeader();
        var url = $"http://127.0.0.1:{TangServer.FreePort()}";

        var bind = Bind(container, "sss", $$$"""{"t":2,"pins":{"tang":[{{{Pin(Server)}}},{"url":"{{{url}}}","thp":"{{{Server.SigningKeyThumbprint}}}"}]}}""");

        Assert.Equal(1, bind.ExitCode);
        Assert.Contains(url, bind.StandardError, StringComparison.Ordinal);
        Assert.Equal(header, container.ReadHeader());
    }

    [Fact]
    public void Without_thp_yes_or_a_terminal_the_thumbprints_are_shown_and_the_bind_refused()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        var header = container.ReadHeader();

        var bind = Bind(container, "tang", $$"""{"url":"{{Server.Url}}"}""");

        Assert.Equal(2, bind.ExitCode);
        Assert.Contains(Server.SigningKeyThumbprint, bind.StandardError, StringComparison.Ordinal);
        Assert.Contains("--yes", bind.StandardError, StringComparison.Ordinal);
        Assert.Contains("\"thp\"", bind.StandardError, StringComparison.Ordinal);
        Assert.Equal(header, container.ReadHeader());

        var confirmed = Bind(container, "tang", $$"""{"url":"{{Server.Url}}"}""", "--yes");
        Assert.True(confirmed.ExitCode == 0, confirmed.StandardError);
    }

    [Theory]
    [InlineData("yes", 0)]
    [InlineData("no", 2)]
    public void At_a_terminal_the_thumbprints_are_shown_and_only_yes_binds(string answer, int exitCode)
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        var header = container.ReadHeader();

        var bind = AtTerminal(["keys", "bind", "--container", container.Image, "--registry", container.Registry, "--key-file", container.AdminKeyFile,
            "tang", $$"""{"url":"{{Server.Url}}"}"""], answer);

        Assert.True(bind.ExitCode == exitCode, bind.StandardOutput + bind.StandardError);
        Assert.Contains(Server.SigningKeyThumbprint, bind.StandardOutput, StringComparison.Ordinal);
        if (exitCode == 0)
        {
            Assert.Matches("(?m)^1: tang ", ClevisLuksList(container));
        }
        else
        {
            Assert.Equal(header, container.ReadHeader());
        }
    }

    [Fact]
    public void A_LUKS1_binding_whose_slot_another_tool_killed_is_unbound_alone()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        Assert.Equal(0, Bind(container, "tang", Pin(Server)).ExitCode);
        ToolRunner.Run("cryptsetup", "luksKillSlot", "--batch-mode", container.Image, "1").EnsureSuccess("cryptsetup luksKillSlot");

        var unbind = ContainerCli.Keys(container, "unbind", ["--slot", "1"]);

        Assert.True(unbind.ExitCode == 0, unbind.StandardError);
        Assert.Matches("(?m)^1 +inactive +empty$", ToolRunner.Run("luksmeta", "show", "-d", container.Image).EnsureSuccess("luksmeta show").StandardOutput);
        Assert.True(CryptsetupCli.Opens(container.Image, container.AdminKey.Span, 0));
    }

    [Fact]
    public void The_last_slot_that_opens_is_not_unbound()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        Assert.Equal(0, Bind(container, "tang", Pin(Server)).ExitCode);
        ToolRunner.Run("cryptsetup", "luksKillSlot", "--batch-mode", container.Image, "0").EnsureSuccess("cryptsetup luksKillSlot");
        var header = container.ReadHeader();

        var unbind = ContainerCli.Keys(container, "unbind", ["--slot", "1"]);

        Assert.Equal(2, unbind.ExitCode);
        Assert.Contains("last active key slot", unbind.StandardError, StringComparison.Ordinal);
        Assert.Equal(header, container.ReadHeader());
    }

    [Fact]
    public void A_LUKS1_container_without_room_for_LUKSMeta_says_so_in_keys_list_and_refuses_to_bind()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        // Formatted again with the payload right after the key material: no gap for LUKSMeta.
        ToolRunner.Run("cryptsetup", ["luksFormat", "--type", "luks1", "--align-payload", "8", "--pbkdf-force-iterations", "1000", "--batch-mode", "--key-file=-", container.Image], container.AdminKey.Span)
            .EnsureSuccess("cryptsetup luksFormat");
        var header = container.ReadHeader();

        var list = ContainerCli.Keys(container, "list", ["--json"]);
        var bind = Bind(container, "tang", Pin(Server));

        Assert.Equal(0, list.ExitCode);
        Assert.StartsWith("no room for clevis bindings (LUKSMeta): ", ContainerCli.Json(list).GetProperty("clevisRoom").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, bind.ExitCode);
        Assert.Contains("no room for clevis bindings (LUKSMeta)", bind.StandardError, StringComparison.Ordinal);
        Assert.Equal(header, container.ReadHeader());
    }

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public async Task A_failure_after_the_slot_was_added_removes_it_again(LuksVersion version)
    {
        using var container = TestContainer.Create(version);
        var header = container.ReadHeader();
        using var editor = container.OpenEditor(step =>
        {
            if (step == LuksVirt.Core.Headers.HeaderChangeStep.VerifyNewKey)
            {
                throw new IOException("simulated failure after the new key was enrolled");
            }
        });

        var failure = await Assert.ThrowsAsync<LuksVirt.Core.Containers.SlotChangeFailedException>(() =>
            editor.BindAsync(container.AdminKey, "tang", Pin(Server), null, _ => false));

        Assert.Equal(LuksVirt.Core.Containers.RollbackOutcome.Verified, failure.Rollback);
        Assert.Equal(header, container.ReadHeader());
    }

    /// <summary>Runs luksvirt on a pseudo-terminal (util-linux script), typing
    /// <paramref name="answer"/>; what it wrote to the terminal is the standard output.</summary>
    private static ToolResult AtTerminal(IEnumerable<string> arguments, string answer)
    {
        var (file, prefix) = LuksVirtCli.Command();
        var command = string.Join(' ', new[] { file }.Concat(prefix).Concat(arguments).Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
        return ToolRunner.Run("script", ["--quiet", "--return", "--command", command, "/dev/null"], Encoding.ASCII.GetBytes(answer + "\n"), TimeSpan.FromMinutes(2));
    }

    /// <summary>tang's documented rotation: a new pair, the old keys renamed to hidden .jwk files
    /// (they still answer recoveries, but are no longer advertised). Returns the new exchange key's thumbprint.</summary>
    private static string Rotate(TangServer server)
    {
        ToolRunner.Run(TangServer.TangdKeygen, server.KeyDirectory, "sig2", "exc2").EnsureSuccess("tangd-keygen");
        foreach (var name in new[] { "sig", "exc" })
        {
            File.Move(Path.Combine(server.KeyDirectory, name + ".jwk"), Path.Combine(server.KeyDirectory, $".{name}.jwk"));
        }

        return ToolRunner.Run("jose", "jwk", "thp", "-i", Path.Combine(server.KeyDirectory, "exc2.jwk"), "-a", "S256").EnsureSuccess("jose jwk thp").StandardOutput.Trim();
    }

    private static ToolResult Bind(TestContainer container, string pin, string configuration, params string[] more) =>
        BindWithKey(container, container.AdminKeyFile, pin, configuration, more);

    private static ToolResult BindWithKey(TestContainer container, string keyFile, string pin, string configuration, params string[] more) =>
        ContainerCli.Keys(container, "bind", ["--key-file", keyFile, "--json", .. more, pin, configuration]);

    private static string Pin(TangServer server) => $$"""{"url":"{{server.Url}}","thp":"{{server.SigningKeyThumbprint}}"}""";

    private static string Escape(string text) => System.Text.RegularExpressions.Regex.Escape(text);

    private static string ClevisLuksList(TestContainer container) =>
        ToolRunner.Run("clevis", "luks", "list", "-d", container.Image).StandardOutput;

    private static SecretBuffer ClevisLuksPass(TestContainer container, int slot) =>
        SecretBuffer.CopyOf(Encoding.ASCII.GetBytes(ToolRunner.Run("clevis", "luks", "pass", "-d", container.Image, "-s", Slot(slot)).EnsureSuccess("clevis luks pass").StandardOutput));

    /// <summary>The compact JWE of a slot's binding, read with the tools clevis uses.</summary>
    private static string StoredJwe(TestContainer container, int slot)
    {
        if (container.Version == LuksVersion.Luks1)
        {
            return ToolRunner.Run("luksmeta", "load", "-d", container.Image, "-s", Slot(slot)).EnsureSuccess("luksmeta load").StandardOutput;
        }

        using var dump = CryptsetupCli.DumpJson(container.Image);
        var token = dump.RootElement.GetProperty("tokens").EnumerateObject()
            .Single(t => t.Value.GetProperty("type").GetString() == "clevis" && t.Value.GetProperty("keyslots").EnumerateArray().Any(s => s.GetString() == Slot(slot)));
        var flattened = token.Value.GetProperty("jwe").GetRawText();
        return ToolRunner.Run("jose", ["jwe", "fmt", "-i-", "-c"], Encoding.UTF8.GetBytes(flattened)).EnsureSuccess("jose jwe fmt").StandardOutput.Trim();
    }

    private static string Slot(int slot) => slot.ToString(CultureInfo.InvariantCulture);
}
