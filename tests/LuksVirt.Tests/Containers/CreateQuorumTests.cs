using System.Text;
using LuksVirt.Core.Quorum;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Migration;
using LuksVirt.Tests.Quorum;

namespace LuksVirt.Tests.Containers;

/// <summary>
/// <c>luksvirt create --holder a --holder b --holder c --quorum 2</c> as a separate process
/// against real libvirtd and QEMU: one quorum slot whose shares, combined by
/// <see cref="QuorumCombiner"/>, open it (real <c>cryptsetup open --test-passphrase</c> as the
/// witness), a single share opens nothing, <c>keys list</c> shows the quorum, and an unlock with two
/// of the three share files starts the guest. Impossible quorums are refused before anything is written.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class CreateQuorumTests(LibvirtdFixture libvirtd) : IDisposable
{
    private static readonly string[] Holders = ["alice", "bob", "carol"];

    private readonly GuestLab _lab = new(libvirtd, "create-quorum");

    public void Dispose() => _lab.Dispose();

    [Theory]
    [InlineData("native", LuksVersion.Luks1, 7)]
    [InlineData("dmcrypt", LuksVersion.Luks2, 31)]
    public void Every_two_of_three_shares_open_the_quorum_slot_and_one_share_opens_nothing(string backend, LuksVersion version, int recoverySlot)
    {
        var name = _lab.NewGuestName("quorum");
        _lab.DefineGuest(name);
        var container = _lab.Directory.PathOf("quorum-d0.luks");
        string[] config = backend == "dmcrypt" ? ["--config", DmCryptConfig()] : [];

        var result = _lab.Luksvirt(["create", "--vm", name, "--disk", container, "--size", "32M", "--backend", backend,
            .. HolderArguments, "--quorum", "2", "--keys-out", _lab.KeysOut, "--json", .. config]);

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        Assert.True(CryptsetupCli.IsLuks(container, version));
        var report = GuestLab.Json(result);
        Assert.Equal("quorum 2 of 3: alice, bob, carol", report.GetProperty("quorum").GetString());
        var keyFiles = report.GetProperty("keyFiles").EnumerateArray()
            .Select(k => (k.GetProperty("holder").GetString(), k.GetProperty("slot").GetInt32(), k.GetProperty("share").GetBoolean())).ToList();
        Assert.Equal([("alice", 0, true), ("bob", 0, true), ("carol", 0, true), ("recovery", recoverySlot, false)], keyFiles);
        var shareFiles = Holders.Select(h => Path.Combine(_lab.KeysOut, $"luks-{h}.0.key")).ToList();
        Assert.All(shareFiles, f => Assert.StartsWith("LUKSVIRT-SHARE 1\n", Encoding.ASCII.GetString(File.ReadAllBytes(f)), StringComparison.Ordinal));
        Assert.Equal(
            [.. shareFiles.Select(Path.GetFileName), $"luks-recovery.{recoverySlot}.key"],
            Directory.GetFiles(_lab.KeysOut).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // Two key slots in use: the quorum's (0) and the recovery key's; no holder has a key of their own.
        using (var recovery = _lab.ReadKey($"luks-recovery.{recoverySlot}.key"))
        {
            Assert.True(CryptsetupCli.Opens(container, recovery.Span, recoverySlot));
        }

        var shares = ReadShares(shareFiles);
        try
        {
            using var device = CryptDevice.Load(container);
            Assert.Equal([KeySlotState.Active, KeySlotState.Active], device.GetSlotStates().Where(s => s != KeySlotState.Inactive));
            foreach (var subset in ShamirTests.Subsets(3, 2))
            {
                var outcome = QuorumCombiner.Combine(subset.Select(i => shares[i]).ToList(), device, container);
                using var key = outcome.Key;
                Assert.True(outcome.Kind == QuorumOutcomeKind.Opened, outcome.Message);
                Assert.True(CryptsetupCli.Opens(container, key!.Span, 0), $"shares {string.Join(",", subset)} do not open slot 0");
            }

            for (var i = 0; i < shares.Count; i++)
            {
                var alone = QuorumCombiner.Combine([shares[i]], device, container);
                Assert.Equal(QuorumOutcomeKind.Incomplete, alone.Kind);
                Assert.Null(alone.Key);
                using var content = SecretBuffer.CopyOf(File.ReadAllBytes(shareFiles[i]));
                Assert.False(CryptsetupCli.Opens(container, content.Span), $"{shareFiles[i]} opens the container on its own");
            }
        }
        finally
        {
            shares.ForEach(s => s.Dispose());
        }

        var list = LuksVirtCli.Run("keys", "list", "--container", container, "--json");
        Assert.True(list.ExitCode == 0, list.StandardError);
        var slot = GuestLab.Json(list).GetProperty("slots").EnumerateArray().Single(s => s.GetProperty("slot").GetInt32() == 0);
        Assert.Equal("quorum 2 of 3: alice, bob, carol", slot.GetProperty("quorum").GetProperty("description").GetString());
    }

    [Fact]
    public void Unlock_with_two_of_the_three_share_files_starts_the_guest()
    {
        var name = _lab.NewGuestName("quorum-run");
        var container = _lab.Directory.PathOf("quorum-run-d0.luks");
        var result = _lab.Luksvirt(["create", "--vm", name, "--disk", container, "--size", "16M", "--backend", "native",
            .. HolderArguments, "--quorum", "2", "--keys-out", _lab.KeysOut, "--define-domain", "--domain-type", "qemu"]);
        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        Assert.Contains("share (bob)", result.StandardOutput, StringComparison.Ordinal);

        File.Copy(Path.Combine(_lab.KeysOut, "luks-carol.0.key"), Path.Combine(_lab.UnlockKeys, "luks-carol.0.key"));
        var unlock = _lab.Unlock(name, "luks-alice.0.key");

        Assert.True(unlock.ExitCode == 0, unlock.StandardError + unlock.StandardOutput + LibvirtdFixture.QemuLogOf(name));
        Assert.Equal(DomainState.Running, _lab.State(name));
        var disk = GuestLab.Json(unlock).GetProperty("guests").EnumerateArray().Single().GetProperty("disks").EnumerateArray().Single();
        Assert.Equal(("Opened", "alice+carol"), (disk.GetProperty("outcome").GetString(), disk.GetProperty("holder").GetString()));
    }

    [Theory]
    [InlineData(4, "needs at least 4 holders, 3 given")]
    [InlineData(1, "give --quorum 2 or more")]
    [InlineData(0, "give --quorum 2 or more")]
    public void An_impossible_quorum_is_refused_before_anything_is_written(int threshold, string reason)
    {
        var name = _lab.NewGuestName("quorum-refused");
        _lab.DefineGuest(name);
        var xml = _lab.InactiveXml(name);
        var container = _lab.Directory.PathOf("refused.luks");

        var result = _lab.Luksvirt(["create", "--vm", name, "--disk", container, "--size", "16M", "--backend", "native",
            .. HolderArguments, "--quorum", threshold.ToString(System.Globalization.CultureInfo.InvariantCulture), "--keys-out", _lab.KeysOut]);

        Assert.True(result.ExitCode == 2, result.StandardError);
        Assert.Contains(reason, result.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(container));
        Assert.False(Directory.Exists(_lab.KeysOut));
        Assert.Equal(xml, _lab.InactiveXml(name));
    }

    [Fact]
    public void A_quorum_without_keys_out_or_with_a_holder_twice_is_refused_before_anything_is_written()
    {
        var name = _lab.NewGuestName("quorum-refused");
        _lab.DefineGuest(name);
        var container = _lab.Directory.PathOf("refused.luks");

        var noKeysOut = _lab.Luksvirt(["create", "--vm", name, "--disk", container, "--size", "16M", "--backend", "native", .. HolderArguments, "--quorum", "2"]);
        var twice = _lab.Luksvirt(["create", "--vm", name, "--disk", container, "--size", "16M", "--backend", "native",
            "--holder", "alice", "--holder", "bob", "--holder", "Alice", "--quorum", "2", "--keys-out", _lab.KeysOut]);

        Assert.True(noKeysOut.ExitCode == 2, noKeysOut.StandardError);
        Assert.Contains("--keys-out", noKeysOut.StandardError, StringComparison.Ordinal);
        Assert.True(twice.ExitCode == 2, twice.StandardError);
        Assert.Contains("given twice", twice.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(container));
        Assert.False(Directory.Exists(_lab.KeysOut));
    }

    [Fact]
    public void An_existing_share_file_name_is_refused_before_anything_is_formatted()
    {
        var name = _lab.NewGuestName("quorum-refused");
        _lab.DefineGuest(name);
        var container = _lab.Directory.PathOf("refused.luks");
        Directory.CreateDirectory(_lab.KeysOut);
        var taken = Path.Combine(_lab.KeysOut, "luks-bob.0.key");
        File.WriteAllText(taken, "a share someone already holds");

        var result = _lab.Luksvirt(["create", "--vm", name, "--disk", container, "--size", "16M", "--backend", "native",
            .. HolderArguments, "--quorum", "2", "--keys-out", _lab.KeysOut]);

        Assert.True(result.ExitCode == 2, result.StandardError);
        Assert.Contains(taken, result.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(container));
        Assert.Equal([taken], Directory.GetFiles(_lab.KeysOut));
    }

    private static string[] HolderArguments => [.. Holders.SelectMany(h => new[] { "--holder", h })];

    private string DmCryptConfig()
    {
        var images = _lab.Directory.PathOf("images");
        Directory.CreateDirectory(images);
        var config = _lab.Directory.PathOf("luksvirt.xml");
        File.WriteAllText(config, $"<vms allowed-image-dirs='{images}'>\n</vms>\n");
        return config;
    }

    private static List<QuorumShare> ReadShares(IEnumerable<string> files) => files.Select(f =>
    {
        using var content = SecretBuffer.CopyOf(File.ReadAllBytes(f));
        return QuorumShare.Parse(content, Path.GetFileName(f));
    }).ToList();
}
