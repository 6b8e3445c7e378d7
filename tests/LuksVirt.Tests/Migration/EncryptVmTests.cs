using System.Globalization;
using System.Security.Cryptography;
using LuksVirt.Core.DomainXml;
using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Migration;

/// <summary>
/// <c>luksvirt encrypt-vm</c> as a separate process against real libvirtd, with QEMU's own LUKS
/// driver and the cryptsetup CLI as independent witnesses of the containers it writes.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class EncryptVmTests(LibvirtdFixture libvirtd) : IDisposable
{
    /// <summary>1 GiB of random data, as the issue asks: 256 pipeline chunks.</summary>
    private const long RawDiskBytes = 1L << 30;

    private const long Qcow2DiskBytes = 48L << 20;

    private readonly GuestLab _lab = new(libvirtd, "migrate");

    public void Dispose() => _lab.Dispose();

    [Fact]
    public async Task Raw_and_qcow2_disks_move_into_verified_containers_and_the_guest_starts_after_unlock()
    {
        var raw = _lab.Directory.PathOf("web-d0.raw");
        var rawSha = GuestLab.WriteRandomFile(raw, RawDiskBytes);
        var seed = _lab.Directory.PathOf("seed.raw");
        var qcowSha = GuestLab.WriteRandomFile(seed, Qcow2DiskBytes);
        var qcow = _lab.Directory.PathOf("web-d1.qcow2");
        ToolRunner.Run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", seed, qcow).EnsureSuccess("qemu-img convert to qcow2");
        File.Delete(seed);
        var name = _lab.NewGuestName("mig");
        _lab.DefineGuest(name, (raw, "raw", "vda"), (qcow, "qcow2", "vdb"));
        _lab.SetAutostart(name, true);

        ToolResult result;
        IReadOnlyCollection<string> seen;
        int rounds;
        using (var snapshots = new ProcessSnapshots())
        {
            result = await Task.Run(() => _lab.Luksvirt("encrypt-vm", name, "--backend", "native", "--holder", "alice", "--keys-out", _lab.KeysOut, "--json"));
            seen = await snapshots.StopAsync();
            rounds = snapshots.Rounds;
        }

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        var report = GuestLab.Json(result);
        var disks = report.GetProperty("disks").EnumerateArray().ToDictionary(d => d.GetProperty("targetDev").GetString()!);
        Assert.Equal(rawSha, disks["vda"].GetProperty("sha256").GetString());
        Assert.Equal(qcowSha, disks["vdb"].GetProperty("sha256").GetString());
        var rawContainer = _lab.Directory.PathOf("web-d0.raw.luks");
        var qcowContainer = _lab.Directory.PathOf("web-d1.raw.luks");
        Assert.Equal(rawContainer, disks["vda"].GetProperty("container").GetString());
        Assert.Equal(qcowContainer, disks["vdb"].GetProperty("container").GetString());

        using var alice = _lab.ReadKey("luks-alice.0.key");
        using var recovery = _lab.ReadKey("luks-recovery.7.key");
        // Independent witnesses: QEMU decrypts the payloads, cryptsetup opens the slots.
        Assert.Equal(rawSha, _lab.QemuDecryptedSha256(rawContainer, alice.Span));
        Assert.Equal(qcowSha, _lab.QemuDecryptedSha256(qcowContainer, recovery.Span));
        foreach (var container in new[] { rawContainer, qcowContainer })
        {
            Assert.True(CryptsetupCli.IsLuks(container, LuksVersion.Luks1));
            Assert.True(CryptsetupCli.Opens(container, alice.Span, 0));
            Assert.True(CryptsetupCli.Opens(container, recovery.Span, 7));
        }

        Assert.Equal(rawSha, GuestLab.Sha256(raw)); // the source stays (no --delete-plaintext)
        Assert.True(File.Exists(qcow));
        Assert.Empty(Directory.GetFiles(_lab.Directory.Path, "*.incomplete"));

        foreach (var (dev, container) in new[] { ("vda", rawContainer), ("vdb", qcowContainer) })
        {
            var disk = _lab.Disk(name, dev);
            Assert.Equal("file", (string?)disk.Attribute("type"));
            Assert.Equal("raw", (string?)disk.Element("driver")!.Attribute("type"));
            Assert.Equal(container, (string?)disk.Element("source")!.Attribute("file"));
            Assert.Null(disk.Element("backingStore"));
            var encryption = disk.Element("encryption")!;
            Assert.Equal("luks", (string?)encryption.Attribute("format"));
            Assert.Equal(disks[dev].GetProperty("secretUuid").GetString(), (string?)encryption.Element("secret")!.Attribute("uuid"));
        }

        Assert.Contains(DomainDiskEditor.TitleMarker, _lab.InactiveXml(name), StringComparison.Ordinal);
        Assert.False(_lab.Autostart(name));

        // No key in any process's command line or environment while encrypt-vm (and the
        // qemu-img it runs for the qcow2 disk) ran.
        Assert.True(rounds > 1, $"only {rounds} snapshot round(s) of /proc during the run");
        foreach (var key in new[] { alice, recovery })
        {
            foreach (var form in ProcessSnapshots.Forms(key.Span))
            {
                Assert.DoesNotContain(seen, s => s.Contains(form, StringComparison.Ordinal));
            }
        }

        var unlock = _lab.Unlock(name, "luks-alice.0.key");

        Assert.True(unlock.ExitCode == 0, unlock.StandardError + unlock.StandardOutput + LibvirtdFixture.QemuLogOf(name));
        Assert.Equal(DomainState.Running, _lab.State(name));
    }

    [Fact]
    public void A_SIGKILL_during_the_copy_leaves_source_and_domain_untouched_and_a_rerun_succeeds()
    {
        var raw = _lab.Directory.PathOf("db-d0.raw");
        var sha = GuestLab.WriteRandomFile(raw, 96L << 20);
        var name = _lab.NewGuestName("kill");
        _lab.DefineGuest(name, (raw, "raw", "vda"));
        var xmlBefore = _lab.InactiveXml(name);
        var container = _lab.Directory.PathOf("db-d0.raw.luks");
        string[] arguments = ["encrypt-vm", name, "--backend", "native", "--keys-out", _lab.KeysOut, "--json"];
        var (program, prefix) = FaultInjectionProgram.Command();

        var killed = ToolRunner.Run(program, [.. prefix, .. arguments, "--log", _lab.LogPath], timeout: TimeSpan.FromMinutes(2),
            environment: new Dictionary<string, string> { [FaultInjectionProgram.KillAfterBytesVariable] = (32 << 20).ToString(CultureInfo.InvariantCulture) });

        Assert.True(killed.ExitCode == 128 + 9, $"expected death by SIGKILL, got exit {killed.ExitCode}: {killed.StandardError}");
        Assert.Equal(sha, GuestLab.Sha256(raw));
        Assert.Equal(xmlBefore, _lab.InactiveXml(name));
        Assert.False(Directory.Exists(_lab.KeysOut) && Directory.EnumerateFileSystemEntries(_lab.KeysOut).Any(), "key files written before the copy was verified");
        Assert.True(File.Exists(container + ".incomplete"), "the partial container is not marked incomplete");
        Assert.False(File.Exists(container));

        var rerun = _lab.Luksvirt(arguments);

        Assert.True(rerun.ExitCode == 0, rerun.StandardError + rerun.StandardOutput);
        Assert.False(File.Exists(container + ".incomplete"));
        using (var recovery = _lab.ReadKey("luks-recovery.7.key"))
        {
            Assert.Equal(sha, _lab.QemuDecryptedSha256(container, recovery.Span));
        }

        Assert.Equal(container, (string?)_lab.Disk(name, "vda").Element("source")!.Attribute("file"));

        // A third run finds nothing left to do and changes nothing.
        var xmlAfter = _lab.InactiveXml(name);
        var again = _lab.Luksvirt("encrypt-vm", name, "--keys-out", _lab.Directory.PathOf("keys-again"), "--json");
        Assert.True(again.ExitCode == 0, again.StandardError + again.StandardOutput);
        Assert.Empty(GuestLab.Json(again).GetProperty("disks").EnumerateArray());
        Assert.Equal(xmlAfter, _lab.InactiveXml(name));
        Assert.False(Directory.Exists(_lab.Directory.PathOf("keys-again")));
    }

    [Fact]
    public void A_running_guest_is_refused_and_nothing_changes()
    {
        var raw = _lab.Directory.PathOf("app-d0.raw");
        var sha = GuestLab.WriteRandomFile(raw, 4L << 20);
        var name = _lab.NewGuestName("run");
        _lab.DefineGuest(name, (raw, "raw", "vda"));
        _lab.Start(name);
        var xmlBefore = _lab.InactiveXml(name);

        var result = _lab.Luksvirt("encrypt-vm", name, "--keys-out", _lab.KeysOut);

        Assert.True(result.ExitCode == 2, result.StandardError + result.StandardOutput);
        Assert.Contains("shut it down", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(xmlBefore, _lab.InactiveXml(name));
        Assert.Equal(sha, GuestLab.Sha256(raw));
        Assert.Empty(Directory.GetFiles(_lab.Directory.Path, "*.luks*"));
        Assert.False(Directory.Exists(_lab.KeysOut));
    }

    [Fact]
    public void A_source_that_is_not_whole_sectors_is_padded_and_the_report_says_so()
    {
        const long bytes = (4L << 20) + 1000;
        var raw = _lab.Directory.PathOf("odd-d0.raw");
        var sha = GuestLab.WriteRandomFile(raw, bytes);
        var name = _lab.NewGuestName("odd");
        _lab.DefineGuest(name, (raw, "raw", "vda"));

        var result = _lab.Luksvirt("encrypt-vm", name, "--backend", "native", "--keys-out", _lab.KeysOut, "--json");

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        var report = GuestLab.Json(result);
        Assert.Equal(sha, report.GetProperty("disks")[0].GetProperty("sha256").GetString());
        // Before, this warning went to the log file only.
        Assert.Contains(report.GetProperty("warnings").EnumerateArray(), w => w.GetString() == $"vda: {bytes} bytes is not a whole number of 512-byte sectors; the guest sees the disk 24 bytes larger (zeros)");
        // QEMU reads the plaintext followed by 24 zero bytes.
        var padded = File.ReadAllBytes(raw).Concat(new byte[24]).ToArray();
        using var key = _lab.ReadKey("luks-recovery.7.key");
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(padded)), _lab.QemuDecryptedSha256(_lab.Directory.PathOf("odd-d0.raw.luks"), key.Span));
    }

    [Fact]
    public void Dmcrypt_writes_luks2_containers_a_classic_config_entry_and_points_the_domain_at_the_link()
    {
        var links = _lab.Directory.PathOf("images");
        Directory.CreateDirectory(links);
        var config = _lab.Directory.PathOf("luksvirt.xml");
        File.WriteAllText(config, $"<vms allowed-image-dirs='{links}'>\n</vms>\n");
        var raw = _lab.Directory.PathOf("mail-d0.raw");
        var sha = GuestLab.WriteRandomFile(raw, 8L << 20);
        var name = _lab.NewGuestName("dm");
        _lab.DefineGuest(name, (raw, "raw", "vda"));

        var result = _lab.Luksvirt("encrypt-vm", name, "--backend", "dmcrypt", "--holder", "ops", "--keys-out", _lab.KeysOut, "--config", config, "--delete-plaintext", "--json");

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        var report = GuestLab.Json(result);
        var disk = report.GetProperty("disks")[0];
        Assert.Equal(sha, disk.GetProperty("sha256").GetString());
        Assert.True(disk.GetProperty("plaintextDeleted").GetBoolean());
        Assert.False(File.Exists(raw));
        Assert.Contains(report.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("SSD", StringComparison.Ordinal));

        var container = _lab.Directory.PathOf("mail-d0.raw.luks");
        var link = Path.Combine(links, "mail-d0.raw.decrypted");
        Assert.True(CryptsetupCli.IsLuks(container, LuksVersion.Luks2));
        using (var ops = _lab.ReadKey("luks-ops.0.key"))
        using (var recovery = _lab.ReadKey("luks-recovery.31.key"))
        {
            Assert.True(CryptsetupCli.Opens(container, ops.Span, 0));
            Assert.True(CryptsetupCli.Opens(container, recovery.Span, 31));

            // The payload as dm-crypt reads it (no dm-crypt here; the lab proves it with
            // cryptsetup open): cryptsetup's volume key and a reference XTS with 512-byte IVs.
            using var segments = CryptsetupCli.DumpJson(container);
            var segment = segments.RootElement.GetProperty("segments").GetProperty("0");
            var payloadOffset = long.Parse(segment.GetProperty("offset").GetString()!, CultureInfo.InvariantCulture);
            var sectorSize = segment.GetProperty("sector_size").GetInt32();
            Assert.Equal(4096, sectorSize); // the case where the IV unit matters
            using var volumeKey = CryptsetupCli.VolumeKey(container, ops.Span, _lab.Directory.Path);
            var payload = File.ReadAllBytes(container)[(int)payloadOffset..];
            Assert.Equal(sha, Convert.ToHexStringLower(SHA256.HashData(ReferenceXts.DecryptPayload(volumeKey.Span, payload, 0, sectorSize))));
        }

        var configured = InventoryConfigLoader.Load(config).Guests.Single(g => g.Name == name).Disks.Single();
        Assert.Equal((DiskBackend.DmCrypt, container, link), (configured.Backend, configured.Source, configured.Target));
        var domainDisk = _lab.Disk(name, "vda");
        Assert.Equal("block", (string?)domainDisk.Attribute("type"));
        Assert.Equal(link, (string?)domainDisk.Element("source")!.Attribute("dev"));
        Assert.Null(domainDisk.Element("encryption"));
    }
}
