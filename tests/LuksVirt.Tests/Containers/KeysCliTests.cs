using LuksVirt.Core.Headers;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Containers;

/// <summary><c>luksvirt keys ...</c> run as a separate process, as an administrator would.</summary>
public sealed class KeysCliTests
{
    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void Add_list_replace_remove_through_the_command_line(LuksVersion version)
    {
        using var container = TestContainer.Create(version);

        var add = ContainerCli.Keys(container, "add", ["--holder", "alice", "--key-file", container.AdminKeyFile, "--keys-out", container.KeysOut, "--json"]);
        Assert.True(add.ExitCode == 0, add.StandardError);
        var added = ContainerCli.Json(add);
        Assert.Equal(1, added.GetProperty("addedSlot").GetInt32());
        var aliceFile = added.GetProperty("keyFile").GetString()!;
        Assert.Equal(container.KeyFileOf("alice", 1), aliceFile);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(aliceFile));
        using var aliceKey = TestContainer.ReadKeyFile(aliceFile);
        Assert.True(CryptsetupCli.Opens(container.Image, aliceKey.Span, 1));
        Assert.False(TestImages.Contains(add.StandardOutput + add.StandardError, aliceKey));

        // The authorising key on standard input this time.
        var bob = ContainerCli.Keys(container, "add", ["--holder", "bob", "--slot", "6", "--key-file", "-", "--keys-out", container.KeysOut], container.AdminKey.Span);
        Assert.True(bob.ExitCode == 0, bob.StandardError);
        Assert.Contains("bob", bob.StandardOutput, StringComparison.Ordinal);

        var list = ContainerCli.Keys(container, "list", ["--json"]);
        Assert.Equal(0, list.ExitCode);
        var listed = ContainerCli.Json(list);
        Assert.Equal(version == LuksVersion.Luks1 ? "LUKS1" : "LUKS2", listed.GetProperty("version").GetString());
        Assert.Equal(CryptsetupCli.Uuid(container.Image), listed.GetProperty("uuid").GetString());
        var slots = listed.GetProperty("slots").EnumerateArray().ToList();
        Assert.Equal([0, 1, 6], slots.Select(s => s.GetProperty("slot").GetInt32()));
        Assert.False(slots[0].TryGetProperty("holder", out _));
        Assert.Equal("alice", slots[1].GetProperty("holder").GetString());
        Assert.Equal("generated", slots[1].GetProperty("key").GetString());
        Assert.Equal("bob", slots[2].GetProperty("holder").GetString());
        Assert.DoesNotContain(6, listed.GetProperty("freeSlots").EnumerateArray().Select(e => e.GetInt32()));

        var human = ContainerCli.Keys(container, "list", []);
        Assert.Equal(0, human.ExitCode);
        Assert.Contains("alice", human.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("bob", human.StandardOutput, StringComparison.Ordinal);

        var replace = ContainerCli.Keys(container, "replace", ["--holder", "alice", "--key-file", aliceFile, "--keys-out", container.KeysOut, "--json"]);
        Assert.True(replace.ExitCode == 0, replace.StandardError);
        var replaced = ContainerCli.Json(replace);
        Assert.Equal(2, replaced.GetProperty("addedSlot").GetInt32());
        Assert.Equal(1, replaced.GetProperty("removedSlot").GetInt32());
        using var newAliceKey = TestContainer.ReadKeyFile(container.KeyFileOf("alice", 2));
        Assert.True(CryptsetupCli.Opens(container.Image, newAliceKey.Span, 2));
        Assert.False(CryptsetupCli.Opens(container.Image, aliceKey.Span));

        var remove = ContainerCli.Keys(container, "remove", ["--holder", "bob", "--key-file", container.AdminKeyFile, "--json"]);
        Assert.True(remove.ExitCode == 0, remove.StandardError);
        Assert.Equal(6, ContainerCli.Json(remove).GetProperty("removedSlot").GetInt32());
        using var device = CryptDevice.Load(container.Image);
        Assert.Equal(KeySlotState.Inactive, device.GetSlotState(6));
        Assert.Equal(KeySlotState.Inactive, device.GetSlotState(1));
    }

    [Fact]
    public void A_passphrase_from_a_pipe_is_its_first_line_and_opens_its_slot()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);

        var result = ContainerCli.Keys(container, "add", ["--holder", "carol", "--passphrase", "--iter-time", "50", "--key-file", container.AdminKeyFile, "--json"],
            "my chosen passphrase\nignored second line\n"u8);

        Assert.True(result.ExitCode == 0, result.StandardError);
        Assert.Equal(1, ContainerCli.Json(result).GetProperty("addedSlot").GetInt32());
        Assert.True(CryptsetupCli.Opens(container.Image, "my chosen passphrase"u8, 1));
        Assert.False(CryptsetupCli.Opens(container.Image, "my chosen passphrase\n"u8, 1));
        Assert.Equal("argon2id", container.SlotKdf(1).Type);
        Assert.Empty(Directory.GetFiles(container.KeysOut));
    }

    [Fact]
    public void An_existing_key_file_is_never_overwritten()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        var existing = container.KeyFileOf("alice", 1);
        File.WriteAllBytes(existing, "someone else's key"u8.ToArray());
        var header = container.ReadHeader();

        var result = ContainerCli.Keys(container, "add", ["--holder", "alice", "--key-file", container.AdminKeyFile, "--keys-out", container.KeysOut]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("never overwrites a key file", result.StandardError, StringComparison.Ordinal);
        Assert.Equal("someone else's key"u8.ToArray(), File.ReadAllBytes(existing));
        Assert.Equal(header, container.ReadHeader());
    }

    [Fact]
    public void List_shows_an_unbound_LUKS2_slot_with_its_state_and_token_and_remove_can_destroy_it()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        using var unbound = SecretBuffer.GeneratePrintableKey();
        // A key that opens no data segment, as cryptsetup 2.6 makes it (new key from standard input).
        ToolRunner.Run("cryptsetup",
            ["luksAddKey", "--unbound", "-s", "512", "--key-slot", "3", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--batch-mode", container.Image, "-"],
            unbound.Span).EnsureSuccess("cryptsetup luksAddKey --unbound");
        // Another tool's token bound to it (clevis binds slots this way).
        ToolRunner.Run("cryptsetup", ["token", "import", "--json-file", "-", container.Image],
            """{"type":"clevis","keyslots":["3"],"jwe":{"protected":"x"}}"""u8).EnsureSuccess("cryptsetup token import");
        Assert.Contains("3: luks2 (unbound)", ToolRunner.Run("cryptsetup", "luksDump", container.Image).StandardOutput, StringComparison.Ordinal);

        var list = ContainerCli.Keys(container, "list", ["--json"]);

        Assert.True(list.ExitCode == 0, list.StandardError);
        var listed = ContainerCli.Json(list);
        var slots = listed.GetProperty("slots").EnumerateArray().ToDictionary(s => s.GetProperty("slot").GetInt32());
        Assert.Equal([0, 3], slots.Keys);
        Assert.Equal("active-last", slots[0].GetProperty("state").GetString());
        Assert.Equal("unbound", slots[3].GetProperty("state").GetString());
        Assert.Equal(["clevis"], slots[3].GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
        Assert.DoesNotContain(3, listed.GetProperty("freeSlots").EnumerateArray().Select(e => e.GetInt32()));

        var human = ContainerCli.Keys(container, "list", []);

        Assert.True(human.ExitCode == 0, human.StandardError);
        var row = human.StandardOutput.Split('\n').Single(l => l.Contains("unbound", StringComparison.Ordinal));
        Assert.Contains(" 3 ", row, StringComparison.Ordinal);
        Assert.Contains("clevis", row, StringComparison.Ordinal);
        Assert.Contains("Free key slots: 1-2, 4-31", human.StandardOutput, StringComparison.Ordinal);

        var add = ContainerCli.Keys(container, "add", ["--holder", "alice", "--slot", "3", "--key-file", container.AdminKeyFile, "--keys-out", container.KeysOut]);
        Assert.Equal(2, add.ExitCode);
        Assert.Contains("key slot 3", add.StandardError, StringComparison.Ordinal);
        Assert.Contains("unbound", add.StandardError, StringComparison.Ordinal);

        var remove = ContainerCli.Keys(container, "remove", ["--slot", "3", "--key-file", container.AdminKeyFile, "--json"]);

        Assert.True(remove.ExitCode == 0, remove.StandardError);
        using var device = CryptDevice.Load(container.Image);
        Assert.Equal(KeySlotState.Inactive, device.GetSlotState(3));
        Assert.Equal(KeySlotState.ActiveLast, device.GetSlotState(0));
    }

    public static TheoryData<string, string[], int, string> CliRefusals() => new()
    {
        { "list", [], 2, "--container" },
        { "add", ["--holder", "alice", "--keys-out", "KEYS"], 2, "--key-file" },
        { "add", ["--key-file", "ADMIN", "--keys-out", "KEYS"], 2, "--holder" },
        { "add", ["--holder", "alice", "--key-file", "ADMIN"], 2, "--keys-out DIR" },
        { "add", ["--holder", "alice", "--key-file", "ADMIN", "--keys-out", "KEYS", "--passphrase"], 2, "not both" },
        { "add", ["--holder", "alice", "--key-file", "ADMIN", "--keys-out", "KEYS", "--slot", "8"], 2, "out of range" },
        { "add", ["--holder", "alice", "--key-file", "ADMIN", "--keys-out", "KEYS", "--slot", "0"], 2, "is in use" },
        { "add", ["--holder", "alice", "--key-file", "WRONG", "--keys-out", "KEYS"], 1, "no key slot opens with this key" },
        { "add", ["--holder", "alice", "--key-file", "LINK", "--keys-out", "KEYS"], 2, "symbolic link" },
        { "add", ["--holder", "alice", "--key-file", "EMPTY", "--keys-out", "KEYS"], 2, "is empty" },
        { "add", ["--holder", "alice", "--key-file", "KEYS", "--keys-out", "KEYS"], 2, "not a regular file" },
        { "remove", ["--slot", "0", "--key-file", "ADMIN"], 2, "last active key slot" },
        { "remove", ["--slot", "3", "--key-file", "ADMIN"], 2, "is not active" },
        { "remove", ["--slot", "99", "--key-file", "ADMIN"], 2, "out of range" },
        { "remove", ["--slot", "-1", "--key-file", "ADMIN"], 2, "out of range" },
        { "remove", ["--slot", "0", "--holder", "x", "--key-file", "ADMIN"], 2, "exactly one of" },
        { "replace", ["--holder", "nobody", "--key-file", "ADMIN", "--keys-out", "KEYS"], 2, "held by \"nobody\"" },
    };

    [Theory]
    [MemberData(nameof(CliRefusals))]
    public void Refusals_exit_with_a_message_and_leave_the_header_byte_identical(string subcommand, string[] arguments, int exitCode, string message)
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        using var wrong = SecretBuffer.GeneratePrintableKey();
        var wrongFile = container.Directory.PathOf("wrong.key");
        File.WriteAllBytes(wrongFile, wrong.Span.ToArray());
        var link = container.Directory.PathOf("link.key");
        File.CreateSymbolicLink(link, container.AdminKeyFile);
        var empty = container.Directory.PathOf("empty.key");
        File.WriteAllBytes(empty, []);
        var header = container.ReadHeader();
        var substituted = arguments.Select(a => a switch
        {
            "ADMIN" => container.AdminKeyFile,
            "WRONG" => wrongFile,
            "LINK" => link,
            "EMPTY" => empty,
            "KEYS" => container.KeysOut,
            _ => a,
        });
        var containerArguments = subcommand == "list" && arguments.Length == 0
            ? (IEnumerable<string>)["keys", "list"]
            : ["keys", subcommand, "--container", container.Image, "--registry", container.Registry, .. substituted, "--json"];

        var result = ContainerCli.Run(containerArguments);

        Assert.True(exitCode == result.ExitCode, $"exit {result.ExitCode}: {result.StandardError}");
        Assert.Contains(message, result.StandardError, StringComparison.Ordinal);
        Assert.False(TestImages.Contains(result.StandardError + result.StandardOutput, container.AdminKey));
        Assert.False(TestImages.Contains(result.StandardError + result.StandardOutput, wrong));
        if (containerArguments.Contains("--json"))
        {
            Assert.Equal(exitCode, ContainerCli.Json(result).GetProperty("exitCode").GetInt32());
        }

        Assert.Equal(header, container.ReadHeader());
        Assert.Empty(Directory.GetFiles(container.KeysOut));
    }

    public static TheoryData<LuksVersion, string> CrashPoints()
    {
        var data = new TheoryData<LuksVersion, string>();
        foreach (var version in new[] { LuksVersion.Luks1, LuksVersion.Luks2 })
        {
            foreach (var step in KeySlotEditorTests.ReplaceStepOrder)
            {
                data.Add(version, HeaderChangeSteps.NameOf(step));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CrashPoints))]
    public void A_replace_killed_with_sigkill_after_any_step_leaves_a_key_that_opens(LuksVersion version, string step)
    {
        using var container = TestContainer.Create(version);
        ContainerCli.Keys(container, "add", ["--holder", "alice", "--key-file", container.AdminKeyFile, "--keys-out", container.KeysOut])
            .EnsureSuccess("keys add");
        using var oldKey = TestContainer.ReadKeyFile(container.KeyFileOf("alice", 1));

        // Authorised by alice's old key, which the replace is about to destroy: the hardest case.
        var result = ContainerCli.KeysWithFaults(container, "replace", ["--holder", "alice", "--key-file", container.KeyFileOf("alice", 1), "--keys-out", container.KeysOut],
            new Dictionary<string, string> { [FaultInjectionProgram.CrashAfterVariable] = step });

        Assert.True(result.ExitCode == ContainerCli.KilledBySigkill, $"expected death by SIGKILL after {step}, got exit {result.ExitCode}: {result.StandardError}");
        var newKeyFile = container.KeyFileOf("alice", 2);
        var oldOpens = CryptsetupCli.Opens(container.Image, oldKey.Span);
        using var newKey = File.Exists(newKeyFile) ? TestContainer.ReadKeyFile(newKeyFile) : null;
        var newOpens = newKey is not null && CryptsetupCli.Opens(container.Image, newKey.Span, 2);
        Assert.True(oldOpens || newOpens, $"after a kill at {step} neither alice's old nor her new key opens");
        var destroyed = step is "destroy-slot" or "forget-holder";
        Assert.Equal(!destroyed, oldOpens);
        if (destroyed)
        {
            Assert.True(newOpens, $"the old slot is gone after {step}, so the new key file must open");
        }

        // The admin key, untouched throughout, opens too, and the container is still listable.
        Assert.True(CryptsetupCli.Opens(container.Image, container.AdminKey.Span, 0));
        Assert.Equal(0, ContainerCli.Keys(container, "list", ["--json"]).ExitCode);
    }

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void A_simulated_failure_is_rolled_back_and_reported_as_verified(LuksVersion version)
    {
        using var container = TestContainer.Create(version);
        ContainerCli.Keys(container, "add", ["--holder", "alice", "--key-file", container.AdminKeyFile, "--keys-out", container.KeysOut])
            .EnsureSuccess("keys add");
        var header = container.ReadHeader();

        var result = ContainerCli.KeysWithFaults(container, "replace", ["--holder", "alice", "--key-file", container.AdminKeyFile, "--keys-out", container.KeysOut, "--json"],
            new Dictionary<string, string> { [FaultInjectionProgram.FailAfterVariable] = "destroy-slot" });

        Assert.Equal(1, result.ExitCode);
        var report = ContainerCli.Json(result);
        Assert.Equal("verified", report.GetProperty("rollback").GetString());
        Assert.Contains("simulated failure after step destroy-slot", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("Rolled back", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(header, container.ReadHeader());
        Assert.False(File.Exists(container.KeyFileOf("alice", 2)));
        using var aliceKey = TestContainer.ReadKeyFile(container.KeyFileOf("alice", 1));
        Assert.True(CryptsetupCli.Opens(container.Image, aliceKey.Span, 1));
    }
}
