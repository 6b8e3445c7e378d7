using System.Text.Json;
using System.Text.RegularExpressions;
using LuksVirt.Core.Containers;
using LuksVirt.Core.DomainXml;
using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Migration;

namespace LuksVirt.Tests.Containers;

/// <summary>
/// <c>luksvirt create</c> as a separate process against real libvirtd and QEMU, with the
/// cryptsetup CLI as the witness of what it formatted.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed partial class CreateTests(LibvirtdFixture libvirtd) : IDisposable
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly GuestLab _lab = new(libvirtd, "create");

    public void Dispose() => _lab.Dispose();

    [Fact]
    public void Native_container_gets_holder_and_recovery_keys_joins_the_guest_and_unlock_starts_it()
    {
        var existing = _lab.Directory.PathOf("web-d0.raw");
        GuestLab.WriteRandomFile(existing, 1 << 20);
        var name = _lab.NewGuestName("web");
        _lab.DefineGuest(name, (existing, "raw", "vda"));
        _lab.SetAutostart(name, true);
        var container = _lab.Directory.PathOf("web-d1.luks");

        var result = _lab.Luksvirt("create", "--vm", name, "--disk", container, "--size", "16M", "--backend", "native",
            "--holder", "alice", "--holder", "bob", "--keys-out", _lab.KeysOut, "--json");

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        var report = GuestLab.Json(result);
        Assert.Equal("LUKS1", report.GetProperty("luksVersion").GetString());
        Assert.Equal("vdb", report.GetProperty("targetDev").GetString());
        Assert.Equal(16L << 20, new FileInfo(container).Length);
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(container));
        var keyFiles = report.GetProperty("keyFiles").EnumerateArray().Select(k => (k.GetProperty("holder").GetString(), k.GetProperty("slot").GetInt32())).ToList();
        Assert.Equal([("alice", 0), ("bob", 1), ("recovery", 7)], keyFiles);

        Assert.True(CryptsetupCli.IsLuks(container, LuksVersion.Luks1));
        foreach (var (file, slot) in new[] { ("luks-alice.0.key", 0), ("luks-bob.1.key", 1), ("luks-recovery.7.key", 7) })
        {
            var path = Path.Combine(_lab.KeysOut, file);
            Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
            using var key = _lab.ReadKey(file);
            Assert.Equal(64, key.Length);
            Assert.True(key.IsUtf8WithoutNul);
            Assert.True(CryptsetupCli.Opens(container, key.Span, slot), $"{file} does not open slot {slot}");
        }

        using (var alice = _lab.ReadKey("luks-alice.0.key"))
        {
            Assert.False(CryptsetupCli.Opens(container, alice.Span, 1));
        }

        // Generated full-entropy keys: every slot at the minimal PBKDF2 cost.
        var dump = ToolRunner.Run("cryptsetup", "luksDump", container).EnsureSuccess("cryptsetup luksDump").StandardOutput;
        var iterations = IterationsLine().Matches(dump).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(4, iterations.Count); // the volume key digest and three slots
        Assert.All(iterations, i => Assert.Equal("1000", i));

        var disk = _lab.Disk(name, "vdb");
        Assert.Equal(container, (string?)disk.Element("source")!.Attribute("file"));
        Assert.Equal(report.GetProperty("secretUuid").GetString(), (string?)disk.Element("encryption")!.Element("secret")!.Attribute("uuid"));
        Assert.Contains($"{name} {DomainDiskEditor.TitleMarker}", _lab.InactiveXml(name), StringComparison.Ordinal);
        Assert.False(_lab.Autostart(name));

        // The plaintext vda needs no key; bob's key opens the new disk. Presented without a slot
        // hint, it still costs one key derivation: create recorded bob as the holder of slot 1.
        var unlock = _lab.Unlock(name, "luks-bob.1.key", presentAs: "luks-bob.key");

        Assert.True(unlock.ExitCode == 0, unlock.StandardError + unlock.StandardOutput + LibvirtdFixture.QemuLogOf(name));
        Assert.Equal(DomainState.Running, _lab.State(name));
        Assert.Equal(1, JsonDocument.Parse(unlock.StandardOutput).RootElement.GetProperty("totals").GetProperty("keyDerivations").GetInt32());
    }

    [Fact]
    public void Define_domain_makes_a_minimal_guest_that_starts_with_the_recovery_key()
    {
        var name = _lab.NewGuestName("new");
        var container = _lab.Directory.PathOf("new-d0.luks");

        var refused = _lab.Luksvirt("create", "--vm", name, "--disk", container, "--size", "8M", "--backend", "native", "--keys-out", _lab.KeysOut);

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--define-domain", refused.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(container));
        Assert.False(Directory.Exists(_lab.KeysOut));

        var result = _lab.Luksvirt("create", "--vm", name, "--disk", container, "--size", "8M", "--backend", "native", "--keys-out", _lab.KeysOut,
            "--define-domain", "--domain-type", "qemu", "--json");

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        Assert.True(GuestLab.Json(result).GetProperty("domainDefined").GetBoolean());
        Assert.Equal(["luks-recovery.7.key"], Directory.GetFiles(_lab.KeysOut).Select(Path.GetFileName));
        Assert.Equal(container, (string?)_lab.Disk(name, "vda").Element("source")!.Attribute("file"));
        Assert.False(_lab.Autostart(name));

        var unlock = _lab.Unlock(name, "luks-recovery.7.key");

        Assert.True(unlock.ExitCode == 0, unlock.StandardError + unlock.StandardOutput + LibvirtdFixture.QemuLogOf(name));
        Assert.Equal(DomainState.Running, _lab.State(name));
    }

    [Fact]
    public void Dmcrypt_container_is_luks2_with_a_classic_config_entry_and_a_block_disk_at_the_link()
    {
        var images = _lab.Directory.PathOf("images");
        Directory.CreateDirectory(images);
        var config = _lab.Directory.PathOf("luksvirt.xml");
        File.WriteAllText(config, $"<vms allowed-image-dirs='{images}'>\n</vms>\n");
        var name = _lab.NewGuestName("db");
        _lab.DefineGuest(name);
        var container = _lab.Directory.PathOf("db-d0.raw.crypted");

        var result = _lab.Luksvirt("create", "--vm", name, "--disk", container, "--size", "32M", "--backend", "dmcrypt", "--holder", "ops",
            "--keys-out", _lab.KeysOut, "--config", config, "--json");

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        Assert.True(CryptsetupCli.IsLuks(container, LuksVersion.Luks2));
        using (var ops = _lab.ReadKey("luks-ops.0.key"))
        using (var recovery = _lab.ReadKey("luks-recovery.31.key"))
        {
            Assert.True(CryptsetupCli.Opens(container, ops.Span, 0));
            Assert.True(CryptsetupCli.Opens(container, recovery.Span, 31));
        }

        // The classic recipe's names: NAME-d0.raw.crypted behind the link NAME-d0.raw.decrypted.
        var link = Path.Combine(images, "db-d0.raw.decrypted");
        var configured = InventoryConfigLoader.Load(config).Guests.Single(g => g.Name == name).Disks.Single();
        Assert.Equal((DiskBackend.DmCrypt, container, link), (configured.Backend, configured.Source, configured.Target));
        var disk = _lab.Disk(name, "vda");
        Assert.Equal("block", (string?)disk.Attribute("type"));
        Assert.Equal(link, (string?)disk.Element("source")!.Attribute("dev"));
        Assert.Null(disk.Element("encryption"));
        Assert.False(File.Exists(link), "create must not make the link; unlock does");
    }

    [Fact]
    public void Auto_means_dmcrypt_only_where_the_kernel_has_dm_crypt()
    {
        var expected = CryptDevice.IsDeviceMapperAvailable ? DiskBackend.DmCrypt : DiskBackend.Native;

        Assert.Equal(expected, BackendSelection.Resolve(null));
        Assert.Equal(LuksVersion.Luks1, BackendSelection.LuksVersionFor(DiskBackend.Native, luks1Requested: false));
        Assert.Equal(LuksVersion.Luks2, BackendSelection.LuksVersionFor(DiskBackend.DmCrypt, luks1Requested: false));
        Assert.Equal(LuksVersion.Luks1, BackendSelection.LuksVersionFor(DiskBackend.DmCrypt, luks1Requested: true));
    }

    [GeneratedRegex(@"(?:Iterations|MK iterations):\s+(\d+)")]
    private static partial Regex IterationsLine();
}
