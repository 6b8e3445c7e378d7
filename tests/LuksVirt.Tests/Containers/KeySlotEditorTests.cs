using System.Text.Json;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Headers;
using LuksVirt.Core.Holders;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Containers;

public sealed class KeySlotEditorTests
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void Add_list_and_remove_keep_holder_names_per_slot(LuksVersion version)
    {
        using var container = TestContainer.Create(version);
        using var editor = container.OpenEditor();

        var alice = editor.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));
        Assert.Equal(1, alice.AddedSlot);
        Assert.Equal(container.KeyFileOf("alice", 1), alice.KeyFile);
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(alice.KeyFile!));
        using var aliceKey = TestContainer.ReadKeyFile(alice.KeyFile!);
        Assert.Equal(NewKey.GeneratedKeyCharacters, aliceKey.Length);
        Assert.True(aliceKey.IsUtf8WithoutNul);
        Assert.True(CryptsetupCli.Opens(container.Image, aliceKey.Span, 1));

        // Authorised by the key just added, into a chosen slot.
        var bob = editor.Add(aliceKey, "bob", NewKey.Generated(container.KeysOut), slot: 5);
        Assert.Equal(5, bob.AddedSlot);
        using var bobKey = TestContainer.ReadKeyFile(bob.KeyFile!);
        Assert.True(CryptsetupCli.Opens(container.Image, bobKey.Span, 5));

        var listed = editor.ListSlots();
        Assert.Equal(version == LuksVersion.Luks1 ? 8 : 32, listed.Count);
        Assert.Equal([0, 1, 5], listed.Where(s => s.IsActive).Select(s => s.Slot));
        Assert.Null(listed[0].Holder);
        Assert.Equal("alice", listed[1].Holder!.Holder);
        Assert.Equal(HolderKeyKind.Generated, listed[1].Holder!.Kind);
        Assert.NotNull(listed[1].Holder!.Created);
        Assert.Equal("bob", listed[5].Holder!.Holder);

        // A fresh editor (another run) sees the same holders.
        using (var again = container.OpenEditor())
        {
            Assert.Equal("bob", again.ListSlots()[5].Holder!.Holder);
        }

        var removed = editor.Remove(container.AdminKey, holder: "alice");
        Assert.Equal(1, removed.RemovedSlot);
        Assert.Equal("alice", removed.Holder);
        Assert.False(CryptsetupCli.Opens(container.Image, aliceKey.Span));
        Assert.True(CryptsetupCli.Opens(container.Image, bobKey.Span, 5));
        var after = editor.ListSlots();
        Assert.Equal([0, 5], after.Where(s => s.IsActive).Select(s => s.Slot));
        Assert.DoesNotContain(after, s => s.Holder?.Holder == "alice");

        editor.Remove(container.AdminKey, slot: 5);
        Assert.Equal([0], editor.ListSlots().Where(s => s.IsActive).Select(s => s.Slot));
        // Key files LuksVirt wrote are never deleted by a removal: they belong to their holders.
        Assert.True(File.Exists(alice.KeyFile));
    }

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void Replace_enrols_the_new_key_in_a_free_slot_then_destroys_the_old_one(LuksVersion version)
    {
        using var container = TestContainer.Create(version);
        using var editor = container.OpenEditor();
        editor.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));
        editor.Add(container.AdminKey, "bob", NewKey.Generated(container.KeysOut));
        using var oldKey = TestContainer.ReadKeyFile(container.KeyFileOf("alice", 1));

        // Authorised by alice's own old key.
        var change = editor.Replace(oldKey, "alice", NewKey.Generated(container.KeysOut));

        Assert.Equal(3, change.AddedSlot);
        Assert.Equal(1, change.RemovedSlot);
        Assert.Equal(container.KeyFileOf("alice", 3), change.KeyFile);
        using var newKey = TestContainer.ReadKeyFile(change.KeyFile!);
        Assert.False(newKey.ContentEquals(oldKey));
        Assert.True(CryptsetupCli.Opens(container.Image, newKey.Span, 3));
        Assert.False(CryptsetupCli.Opens(container.Image, oldKey.Span));
        var slots = editor.ListSlots();
        Assert.Equal([0, 2, 3], slots.Where(s => s.IsActive).Select(s => s.Slot));
        Assert.Equal("alice", slots[3].Holder!.Holder);
        Assert.Equal("bob", slots[2].Holder!.Holder);
        Assert.Single(slots, s => s.Holder?.Holder == "alice");
    }

    [Fact]
    public void Luks2_holders_are_tokens_assigned_to_their_slot_and_a_replace_leaves_no_stale_token()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        using var editor = container.OpenEditor();
        editor.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));

        var token = Assert.Single(container.Luks2Tokens());
        Assert.Equal("luksvirt-holder", token.GetProperty("type").GetString());
        Assert.Equal("alice", token.GetProperty("holder").GetString());
        Assert.Equal("generated", token.GetProperty("key").GetString());
        Assert.Equal(["1"], token.GetProperty("keyslots").EnumerateArray().Select(e => e.GetString()));

        editor.Replace(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));
        token = Assert.Single(container.Luks2Tokens());
        Assert.Equal(["2"], token.GetProperty("keyslots").EnumerateArray().Select(e => e.GetString()));
        // LUKS2 needs no registry file.
        Assert.False(File.Exists(container.Registry));
    }

    [Fact]
    public void Luks1_holders_live_in_a_0600_registry_keyed_by_the_luks_uuid()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        using var editor = container.OpenEditor();
        editor.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(container.Registry));
        using (var registry = JsonDocument.Parse(File.ReadAllBytes(container.Registry)))
        {
            var slot = registry.RootElement.GetProperty("containers").GetProperty(CryptsetupCli.Uuid(container.Image)).GetProperty("slots").GetProperty("1");
            Assert.Equal("alice", slot.GetProperty("holder").GetString());
            Assert.Equal("generated", slot.GetProperty("key").GetString());
        }

        // No secret in it: neither the admin key nor the generated key.
        using var aliceKey = TestContainer.ReadKeyFile(container.KeyFileOf("alice", 1));
        var text = File.ReadAllText(container.Registry);
        Assert.False(TestImages.Contains(text, aliceKey));
        Assert.False(TestImages.Contains(text, container.AdminKey));

        // A slot destroyed behind LuksVirt's back is not shown as held, and the next write drops it.
        using (var device = CryptDevice.Load(container.Image))
        {
            device.DestroySlot(1);
        }

        Assert.All(editor.ListSlots(), s => Assert.Null(s.Holder));
        editor.Add(container.AdminKey, "bob", NewKey.Generated(container.KeysOut), slot: 4);
        using var after = JsonDocument.Parse(File.ReadAllBytes(container.Registry));
        var slots = after.RootElement.GetProperty("containers").GetProperty(CryptsetupCli.Uuid(container.Image)).GetProperty("slots");
        Assert.Equal(["4"], slots.EnumerateObject().Select(p => p.Name));
    }

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void Generated_keys_get_minimal_pbkdf2_and_passphrases_a_calibrated_cost(LuksVersion version)
    {
        using var container = TestContainer.Create(version);
        using var editor = container.OpenEditor();
        editor.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));
        using var passphrase = SecretBuffer.CopyOf("correct horse battery staple"u8);

        var change = editor.Add(container.AdminKey, "carol", NewKey.FromPassphrase(passphrase, iterationTimeMs: 100));

        Assert.Equal(("pbkdf2", 1000L), container.SlotKdf(1));
        var (type, cost) = container.SlotKdf(change.AddedSlot!.Value);
        if (version == LuksVersion.Luks2)
        {
            Assert.Equal("argon2id", type);
        }
        else
        {
            Assert.Equal("pbkdf2", type);
            Assert.True(cost > 1000, $"a calibrated PBKDF2 cost is far above the minimum, got {cost}");
        }

        Assert.Null(change.KeyFile);
        Assert.Equal(HolderKeyKind.Passphrase, editor.ListSlots()[2].Holder!.Kind);
        Assert.True(CryptsetupCli.Opens(container.Image, passphrase.Span, 2));
    }

    public static TheoryData<LuksVersion, string> Refusals()
    {
        string[] cases =
        [
            "remove the last slot", "remove slot out of range", "remove slot -1", "remove inactive slot", "remove unknown holder",
            "remove with only the target's key", "add to a used slot", "add to a slot out of range", "add an existing holder",
            "add over an existing key file", "add with a bad holder name", "add to a missing keys-out", "replace unknown holder",
        ];
        var data = new TheoryData<LuksVersion, string>();
        foreach (var version in new[] { LuksVersion.Luks1, LuksVersion.Luks2 })
        {
            foreach (var name in cases)
            {
                data.Add(version, name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Every_refusal_names_the_problem_and_leaves_the_header_byte_identical(LuksVersion version, string refusal)
    {
        using var container = TestContainer.Create(version);
        using var editor = container.OpenEditor();
        var lastSlot = refusal == "remove the last slot";
        if (!lastSlot)
        {
            editor.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));
        }

        using var aliceKey = lastSlot ? null : TestContainer.ReadKeyFile(container.KeyFileOf("alice", 1));
        var outOfRange = editor.SlotCount;
        var header = container.ReadHeader();
        var registry = File.Exists(container.Registry) ? File.ReadAllBytes(container.Registry) : null;
        var keysOut = Directory.GetFiles(container.KeysOut).Order().ToList();
        File.WriteAllBytes(container.KeyFileOf("dave", 2), [1, 2, 3]);

        var error = Assert.Throws<ContainerRefusedException>(() => _ = refusal switch
        {
            "remove the last slot" => editor.Remove(container.AdminKey, slot: 0),
            "remove slot out of range" => editor.Remove(container.AdminKey, slot: outOfRange),
            "remove slot -1" => editor.Remove(container.AdminKey, slot: -1),
            "remove inactive slot" => editor.Remove(container.AdminKey, slot: 3),
            "remove unknown holder" => editor.Remove(container.AdminKey, holder: "mallory"),
            "remove with only the target's key" => editor.Remove(aliceKey!, holder: "alice"),
            "add to a used slot" => editor.Add(container.AdminKey, "bob", NewKey.Generated(container.KeysOut), slot: 1),
            "add to a slot out of range" => editor.Add(container.AdminKey, "bob", NewKey.Generated(container.KeysOut), slot: outOfRange),
            "add an existing holder" => editor.Add(container.AdminKey, "ALICE", NewKey.Generated(container.KeysOut)),
            "add over an existing key file" => editor.Add(container.AdminKey, "dave", NewKey.Generated(container.KeysOut)),
            "add with a bad holder name" => editor.Add(container.AdminKey, "../evil", NewKey.Generated(container.KeysOut)),
            "add to a missing keys-out" => editor.Add(container.AdminKey, "bob", NewKey.Generated(container.Directory.PathOf("nowhere"))),
            "replace unknown holder" => editor.Replace(container.AdminKey, "mallory", NewKey.Generated(container.KeysOut)),
            _ => throw new ArgumentOutOfRangeException(nameof(refusal)),
        });

        var expected = refusal switch
        {
            "remove the last slot" => "last active key slot",
            "remove slot out of range" or "remove slot -1" or "add to a slot out of range" => "out of range",
            "remove inactive slot" => "is not active",
            "remove unknown holder" or "replace unknown holder" => "held by \"mallory\"",
            "remove with only the target's key" => "authorise with a key of another slot",
            "add to a used slot" => "is in use (held by \"alice\")",
            "add an existing holder" => "keys replace --holder",
            "add over an existing key file" => "never overwrites a key file",
            "add with a bad holder name" => "not valid",
            "add to a missing keys-out" => "not an existing directory",
            _ => throw new ArgumentOutOfRangeException(nameof(refusal)),
        };
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(header, container.ReadHeader());
        Assert.Equal(registry, File.Exists(container.Registry) ? File.ReadAllBytes(container.Registry) : null);
        Assert.Equal(keysOut.Append(container.KeyFileOf("dave", 2)).Order(), Directory.GetFiles(container.KeysOut).Order());
        Assert.Equal([1, 2, 3], File.ReadAllBytes(container.KeyFileOf("dave", 2)));
    }

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void A_wrong_authorising_key_changes_nothing(LuksVersion version)
    {
        using var container = TestContainer.Create(version);
        using var editor = container.OpenEditor();
        using var wrong = SecretBuffer.GeneratePrintableKey();
        var header = container.ReadHeader();

        Assert.Throws<WrongKeyException>(() => editor.Add(wrong, "alice", NewKey.Generated(container.KeysOut)));

        Assert.Equal(header, container.ReadHeader());
        Assert.Empty(Directory.GetFiles(container.KeysOut));
    }

    [Fact]
    public void With_all_eight_luks1_slots_used_replace_and_add_refuse_instead_of_overwriting()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        using var editor = container.OpenEditor();
        editor.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));
        var others = new List<SecretBuffer>();
        try
        {
            for (var slot = 2; slot < 8; slot++)
            {
                var key = SecretBuffer.GeneratePrintableKey();
                others.Add(key);
                container.EnrolWithCryptsetup(key.Span, slot);
            }

            var header = container.ReadHeader();
            var replace = Assert.Throws<ContainerRefusedException>(() => editor.Replace(container.AdminKey, "alice", NewKey.Generated(container.KeysOut)));
            Assert.Contains("no free key slot", replace.Message, StringComparison.Ordinal);
            Assert.Contains("keys remove --slot", replace.Message, StringComparison.Ordinal);
            var add = Assert.Throws<ContainerRefusedException>(() => editor.Add(container.AdminKey, "bob", NewKey.Generated(container.KeysOut)));
            Assert.Contains("no free key slot", add.Message, StringComparison.Ordinal);
            Assert.Equal(header, container.ReadHeader());
            using var aliceKey = TestContainer.ReadKeyFile(container.KeyFileOf("alice", 1));
            Assert.True(CryptsetupCli.Opens(container.Image, aliceKey.Span, 1));
        }
        finally
        {
            others.ForEach(k => k.Dispose());
        }
    }

    public static TheoryData<LuksVersion, HeaderChangeStep> ReplaceSteps()
    {
        var data = new TheoryData<LuksVersion, HeaderChangeStep>();
        foreach (var version in new[] { LuksVersion.Luks1, LuksVersion.Luks2 })
        {
            foreach (var step in ReplaceStepOrder)
            {
                data.Add(version, step);
            }
        }

        return data;
    }

    internal static readonly HeaderChangeStep[] ReplaceStepOrder =
    [
        HeaderChangeStep.HeaderSnapshot, HeaderChangeStep.AddKey, HeaderChangeStep.VerifyNewKey, HeaderChangeStep.WriteKeyFile,
        HeaderChangeStep.RecordHolder, HeaderChangeStep.DestroySlot, HeaderChangeStep.ForgetHolder,
    ];

    [Theory]
    [MemberData(nameof(ReplaceSteps))]
    public void A_replace_failing_after_any_step_is_rolled_back_and_verified(LuksVersion version, HeaderChangeStep failingStep)
    {
        using var container = TestContainer.Create(version);
        using (var setup = container.OpenEditor())
        {
            setup.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));
        }

        using var oldKey = TestContainer.ReadKeyFile(container.KeyFileOf("alice", 1));
        var header = container.ReadHeader();
        var registry = File.Exists(container.Registry) ? File.ReadAllBytes(container.Registry) : null;
        var seen = new List<HeaderChangeStep>();
        using var editor = container.OpenEditor(step =>
        {
            seen.Add(step);
            if (step == failingStep)
            {
                throw new SimulatedFailureException($"test failure after {step}");
            }
        });

        var error = Assert.Throws<SlotChangeFailedException>(() => editor.Replace(oldKey, "alice", NewKey.Generated(container.KeysOut)));

        Assert.Equal(RollbackOutcome.Verified, error.Rollback);
        Assert.IsType<SimulatedFailureException>(error.InnerException);
        Assert.Contains("Rolled back", error.Message, StringComparison.Ordinal);
        Assert.Equal(ReplaceStepOrder.TakeWhile(s => s != failingStep).Append(failingStep), seen);
        Assert.Equal(header, container.ReadHeader());
        Assert.Equal(registry, File.Exists(container.Registry) ? File.ReadAllBytes(container.Registry) : null);
        Assert.False(File.Exists(container.KeyFileOf("alice", 2)));
        Assert.True(CryptsetupCli.Opens(container.Image, oldKey.Span, 1));
        Assert.Equal("alice", editor.ListSlots()[1].Holder!.Holder);
    }

    [Theory]
    [InlineData(false, "it has another name (a hard link) now")]
    [InlineData(true, "another file has taken its name")]
    public void A_rollback_never_writes_to_a_new_key_file_that_got_a_second_name_nor_to_a_file_that_took_its_name(bool swapName, string reason)
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        var newKeyFile = container.KeyFileOf("alice", 1);
        var secondName = Path.Combine(Path.GetDirectoryName(container.Image)!, "second-name");
        var stranger = Path.Combine(Path.GetDirectoryName(container.Image)!, "stranger");
        File.WriteAllBytes(stranger, [1, 2, 3, 4]);

        // Between writing the key file and the failure, the file gets a second name elsewhere,
        // and (swapName) another file is renamed over its name.
        using var editor = container.OpenEditor(step =>
        {
            if (step == HeaderChangeStep.RecordHolder)
            {
                ToolRunner.Run("ln", newKeyFile, secondName).EnsureSuccess("ln");
                if (swapName)
                {
                    File.Move(stranger, newKeyFile, overwrite: true);
                }

                throw new SimulatedFailureException("test failure after the key file was written");
            }
        });

        var error = Assert.Throws<SlotChangeFailedException>(() => editor.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut)));

        Assert.Equal(RollbackOutcome.Verified, error.Rollback);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.True(File.ReadAllBytes(secondName).Any(b => b != 0), "the file under its second name is never zeroed");
        if (swapName)
        {
            Assert.Equal([1, 2, 3, 4], File.ReadAllBytes(newKeyFile));
        }
    }

    [Theory]
    [InlineData(LuksVersion.Luks1, HeaderChangeStep.DestroySlot)]
    [InlineData(LuksVersion.Luks1, HeaderChangeStep.ForgetHolder)]
    [InlineData(LuksVersion.Luks2, HeaderChangeStep.DestroySlot)]
    [InlineData(LuksVersion.Luks2, HeaderChangeStep.ForgetHolder)]
    public void A_remove_failing_half_way_brings_the_slot_and_its_holder_back(LuksVersion version, HeaderChangeStep failingStep)
    {
        using var container = TestContainer.Create(version);
        using (var setup = container.OpenEditor())
        {
            setup.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));
        }

        var header = container.ReadHeader();
        using var editor = container.OpenEditor(step =>
        {
            if (step == failingStep)
            {
                throw new SimulatedFailureException("test failure");
            }
        });

        var error = Assert.Throws<SlotChangeFailedException>(() => editor.Remove(container.AdminKey, holder: "alice"));

        Assert.Equal(RollbackOutcome.Verified, error.Rollback);
        Assert.Equal(header, container.ReadHeader());
        Assert.Equal("alice", editor.ListSlots()[1].Holder!.Holder);
        using var aliceKey = TestContainer.ReadKeyFile(container.KeyFileOf("alice", 1));
        Assert.True(CryptsetupCli.Opens(container.Image, aliceKey.Span, 1));
    }

    [Fact]
    public void A_file_that_is_not_luks_is_refused_and_left_alone()
    {
        using var directory = new Infrastructure.TempDirectory("ks");
        var path = TestImages.CreateEmpty(directory, "plain.img", TestImages.Luks1Bytes);
        File.WriteAllBytes(path, Enumerable.Repeat((byte)0xA5, 4096).ToArray());
        var before = File.ReadAllBytes(path);

        var error = Assert.Throws<ContainerRefusedException>(() => KeySlotEditor.Open(path));

        Assert.Contains("not a LUKS container", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(path));
    }
}
