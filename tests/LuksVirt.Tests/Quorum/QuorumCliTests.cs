using System.Text;
using LuksVirt.Core.Quorum;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Containers;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Quorum;

/// <summary><c>luksvirt keys add --quorum</c> run as a separate process on LUKS1 and LUKS2 image
/// files; the shares it writes combined by <see cref="QuorumCombiner"/>, with real
/// <c>cryptsetup open --test-passphrase</c> (key on standard input) as the witness.</summary>
public sealed class QuorumCliTests
{
    private static readonly string[] FiveHolders = ["alice", "bob", "carol", "dave", "erin"];

    [Theory]
    [InlineData(LuksVersion.Luks1, 2, 3)]
    [InlineData(LuksVersion.Luks2, 2, 3)]
    [InlineData(LuksVersion.Luks1, 3, 5)]
    [InlineData(LuksVersion.Luks2, 3, 5)]
    public void Every_k_shares_open_the_slot_and_k_minus_1_are_refused_as_incomplete(LuksVersion version, int threshold, int count)
    {
        using var container = TestContainer.Create(version);
        var holders = FiveHolders[..count];

        var add = AddQuorum(container, holders, threshold);
        Assert.True(add.ExitCode == 0, add.StandardError);
        var report = ContainerCli.Json(add);
        Assert.Equal(1, report.GetProperty("addedSlot").GetInt32());
        var files = report.GetProperty("shareFiles").EnumerateArray().Select(f => f.GetString()!).ToList();
        Assert.Equal(holders.Select(h => container.KeyFileOf(h, 1)), files);
        Assert.All(files, f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
        Assert.All(files, f => Assert.StartsWith("LUKSVIRT-SHARE 1\n", Encoding.ASCII.GetString(File.ReadAllBytes(f)), StringComparison.Ordinal));

        var shares = ReadShares(files);
        using var device = CryptDevice.Load(container.Image);
        SecretBuffer? firstKey = null;
        try
        {
            foreach (var subset in ShamirTests.Subsets(count, threshold))
            {
                var outcome = QuorumCombiner.Combine(subset.Select(i => shares[i]).ToList(), device, container.Image);
                using var key = outcome.Key;
                Assert.True(outcome.Kind == QuorumOutcomeKind.Opened, outcome.Message);
                Assert.Equal(1, outcome.Slot);
                Assert.True(CryptsetupCli.Opens(container.Image, key!.Span, 1), "cryptsetup does not open slot 1 with the combined key");
                firstKey ??= SecretBuffer.CopyOf(key.Span);
                Assert.True(firstKey.ContentEquals(key));
            }

            foreach (var subset in ShamirTests.Subsets(count, threshold - 1))
            {
                var outcome = QuorumCombiner.Combine(subset.Select(i => shares[i]).ToList(), device, container.Image);
                Assert.Equal(QuorumOutcomeKind.Incomplete, outcome.Kind);
                Assert.Null(outcome.Key);
                Assert.Contains($"{threshold - 1} of {threshold} holders present", outcome.Message, StringComparison.Ordinal);
            }

            // No single share file is a key that opens anything.
            Assert.All(files, f =>
            {
                using var content = TestContainer.ReadKeyFile(f);
                Assert.False(CryptsetupCli.Opens(container.Image, content.Span));
            });

            var list = ContainerCli.Keys(container, "list", ["--json"]);
            Assert.True(list.ExitCode == 0, list.StandardError);
            var slot = ContainerCli.Json(list).GetProperty("slots").EnumerateArray().Single(s => s.GetProperty("slot").GetInt32() == 1);
            var quorum = slot.GetProperty("quorum");
            Assert.Equal(threshold, quorum.GetProperty("threshold").GetInt32());
            Assert.Equal(holders, quorum.GetProperty("holders").EnumerateArray().Select(h => h.GetString()));
            var description = $"quorum {threshold} of {count}: {string.Join(", ", holders)}";
            Assert.Equal(description, quorum.GetProperty("description").GetString());
            var human = ContainerCli.Keys(container, "list", []);
            Assert.Contains(description, human.StandardOutput.ReplaceLineEndings(string.Empty).Replace("│", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);

            // The combined key appears in no output and in no file the run left behind.
            foreach (var output in new[] { add, list, human })
            {
                Assert.False(TestImages.Contains(output.StandardOutput + output.StandardError, firstKey!));
            }

            using var needle = new TestKey("quorum", SecretBuffer.CopyOf(firstKey!.Span));
            var leaks = new KeyLeakScanner([needle])
                .ScanFiles([container.Directory.Path], new HashSet<string>(StringComparer.Ordinal));
            Assert.Empty(leaks);
        }
        finally
        {
            firstKey?.Dispose();
            shares.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public void Two_of_three_waiting_message_names_who_is_present_and_who_may_come()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        AddQuorum(container, ["alice", "bob", "carol"], 2).EnsureSuccess("keys add --quorum");
        var shares = ReadShares([container.KeyFileOf("alice", 1)]);
        using var device = CryptDevice.Load(container.Image);

        var outcome = QuorumCombiner.Combine(shares, device, "db");

        Assert.Equal("db: 1 of 2 holders present (alice), waiting for bob or carol", outcome.Message);
        shares.ForEach(s => s.Dispose());
    }

    [Fact]
    public void A_share_of_another_container_or_another_split_is_named_and_refused()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        using var other = TestContainer.Create(LuksVersion.Luks1);
        AddQuorum(container, ["alice", "bob", "carol"], 2).EnsureSuccess("keys add --quorum (first split)");
        AddQuorum(container, ["alice", "bob", "carol"], 2).EnsureSuccess("keys add --quorum (second split)");
        AddQuorum(other, ["alice", "bob", "carol"], 2).EnsureSuccess("keys add --quorum (other container)");
        using var device = CryptDevice.Load(container.Image);

        var foreign = ReadShares([container.KeyFileOf("alice", 1), other.KeyFileOf("bob", 1)]);
        var refused = QuorumCombiner.Combine(foreign, device, container.Image);
        Assert.Equal(QuorumOutcomeKind.Mismatched, refused.Kind);
        Assert.Null(refused.Key);
        Assert.Contains("luks-bob.1.key (bob's share) belongs to container " + CryptsetupCli.Uuid(other.Image), refused.Message, StringComparison.Ordinal);

        var mixed = ReadShares([container.KeyFileOf("alice", 1), container.KeyFileOf("bob", 2)]);
        var mixedOutcome = QuorumCombiner.Combine(mixed, device, container.Image);
        Assert.Equal(QuorumOutcomeKind.Mismatched, mixedOutcome.Kind);
        Assert.Null(mixedOutcome.Key);
        Assert.Contains("luks-bob.2.key", mixedOutcome.Message, StringComparison.Ordinal);
        Assert.Contains("luks-alice.1.key", mixedOutcome.Message, StringComparison.Ordinal);
        Assert.Contains("different splits", mixedOutcome.Message, StringComparison.Ordinal);

        // Each split on its own still opens its slot.
        var second = ReadShares([container.KeyFileOf("alice", 2), container.KeyFileOf("carol", 2)]);
        var opened = QuorumCombiner.Combine(second, device, container.Image);
        using (opened.Key)
        {
            Assert.Equal(QuorumOutcomeKind.Opened, opened.Kind);
            Assert.Equal(2, opened.Slot);
        }

        foreach (var share in foreign.Concat(mixed).Concat(second))
        {
            share.Dispose();
        }
    }

    [Fact]
    public void An_altered_share_combines_into_a_key_that_is_refused_by_its_key_derivation()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        AddQuorum(container, ["alice", "bob", "carol"], 2).EnsureSuccess("keys add --quorum");
        using var content = TestContainer.ReadKeyFile(container.KeyFileOf("bob", 1));
        content.WritableSpan[^1] ^= 0x01;
        using var altered = QuorumShare.Parse(content, "luks-bob.1.key");
        var alice = ReadShares([container.KeyFileOf("alice", 1)]);
        using var device = CryptDevice.Load(container.Image);

        var outcome = QuorumCombiner.Combine([alice[0], altered], device, container.Image);

        Assert.Equal(QuorumOutcomeKind.WrongKey, outcome.Kind);
        Assert.Null(outcome.Key);
        Assert.Contains("damaged or altered", outcome.Message, StringComparison.Ordinal);
        alice.ForEach(s => s.Dispose());
    }

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void Replacing_or_removing_one_holder_of_a_quorum_says_what_must_be_reissued(LuksVersion version)
    {
        using var container = TestContainer.Create(version);
        AddQuorum(container, ["alice", "bob", "carol"], 2).EnsureSuccess("keys add --quorum");
        var header = container.ReadHeader();

        foreach (var action in new[] { "replace", "remove" })
        {
            string[] extra = action == "replace" ? ["--keys-out", container.KeysOut] : [];
            var result = ContainerCli.Keys(container, action, ["--holder", "bob", "--key-file", container.AdminKeyFile, .. extra]);
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("holds a share of key slot 1", result.StandardError, StringComparison.Ordinal);
            Assert.Contains("every share must be reissued", result.StandardError, StringComparison.Ordinal);
            Assert.Contains("--quorum 2", result.StandardError, StringComparison.Ordinal);
            Assert.Contains("--slot 1", result.StandardError, StringComparison.Ordinal);
        }

        Assert.Equal(header, container.ReadHeader());
    }

    [Fact]
    public void Impossible_quorums_and_passphrases_are_refused_before_anything_changes()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        var header = container.ReadHeader();

        var tooHigh = AddQuorum(container, ["alice", "bob", "carol"], 4);
        Assert.NotEqual(0, tooHigh.ExitCode);
        Assert.Contains("is not a quorum", tooHigh.StandardError, StringComparison.Ordinal);

        var twice = AddQuorum(container, ["alice", "bob", "alice"], 2);
        Assert.NotEqual(0, twice.ExitCode);
        Assert.Contains("named twice", twice.StandardError, StringComparison.Ordinal);

        var passphrase = ContainerCli.Keys(container, "add", ["--holder", "alice", "--holder", "bob", "--quorum", "2", "--passphrase", "--key-file", container.AdminKeyFile]);
        Assert.NotEqual(0, passphrase.ExitCode);
        Assert.Contains("cannot be split", passphrase.StandardError, StringComparison.Ordinal);

        var several = ContainerCli.Keys(container, "add", ["--holder", "alice", "--holder", "bob", "--key-file", container.AdminKeyFile, "--keys-out", container.KeysOut]);
        Assert.NotEqual(0, several.ExitCode);

        Assert.Equal(header, container.ReadHeader());
        Assert.Empty(Directory.EnumerateFileSystemEntries(container.KeysOut));
    }

    [Fact]
    public void A_failure_after_the_shares_are_written_rolls_back_and_removes_every_share()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        var header = container.ReadHeader();

        var result = ContainerCli.KeysWithFaults(container, "add",
            ["--holder", "alice", "--holder", "bob", "--holder", "carol", "--quorum", "2", "--key-file", container.AdminKeyFile, "--keys-out", container.KeysOut, "--json"],
            new Dictionary<string, string> { [FaultInjectionProgram.FailAfterVariable] = "record-holder" });

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("verified", ContainerCli.Json(result).GetProperty("rollback").GetString());
        Assert.Equal(header, container.ReadHeader());
        Assert.Empty(Directory.EnumerateFileSystemEntries(container.KeysOut));
        var list = ContainerCli.Json(ContainerCli.Keys(container, "list", ["--json"]));
        Assert.DoesNotContain(list.GetProperty("slots").EnumerateArray(), s => s.TryGetProperty("quorum", out _));
    }

    private static ToolResult AddQuorum(TestContainer container, IEnumerable<string> holders, int threshold) =>
        ContainerCli.Keys(container, "add",
            [.. holders.SelectMany(h => new[] { "--holder", h }), "--quorum", threshold.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "--key-file", container.AdminKeyFile, "--keys-out", container.KeysOut, "--json"]);

    private static List<QuorumShare> ReadShares(IEnumerable<string> files) => files.Select(f =>
    {
        using var content = TestContainer.ReadKeyFile(f);
        return QuorumShare.Parse(content, Path.GetFileName(f));
    }).ToList();
}
