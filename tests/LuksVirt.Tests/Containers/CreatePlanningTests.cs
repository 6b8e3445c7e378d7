using System.Xml.Linq;
using LuksVirt.Core.Containers;
using LuksVirt.Core.DomainXml;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Core.Migration;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Tests.Containers;

/// <summary>The pure decisions behind create and encrypt-vm: slots, sizes, names, XML edits.</summary>
public sealed class CreatePlanningTests
{
    [Fact]
    public void Holders_take_the_lowest_slots_in_order_and_recovery_the_highest()
    {
        var luks1 = KeySlotLayout.Plan(["alice", "bob"], LuksVersion.Luks1).Keys;
        var luks2 = KeySlotLayout.Plan([], LuksVersion.Luks2).Keys;

        Assert.Equal([("alice", 0, "luks-alice.0.key"), ("bob", 1, "luks-bob.1.key"), ("recovery", 7, "luks-recovery.7.key")],
            luks1.Select(k => (k.Holder, k.Slot, k.FileName)));
        Assert.Equal(("recovery", 31, true), (luks2.Single().Holder, luks2.Single().Slot, luks2.Single().IsRecovery));
    }

    [Theory]
    [InlineData("Recovery")]       // reserved
    [InlineData("a.3")]            // would read back as holder "a", slot 3
    [InlineData("../x")]
    [InlineData("")]
    [InlineData("x y")]
    public void Holder_names_that_cannot_name_a_key_file_are_refused(string holder)
    {
        Assert.Throws<ArgumentException>(() => KeySlotLayout.Plan([holder], LuksVersion.Luks1));
    }

    [Fact]
    public void Holders_differing_only_in_case_or_too_many_are_refused()
    {
        Assert.Throws<ArgumentException>(() => KeySlotLayout.Plan(["alice", "ALICE"], LuksVersion.Luks1));
        Assert.Throws<ArgumentException>(() => KeySlotLayout.Plan(Enumerable.Range(0, 8).Select(i => $"h{i}").ToList(), LuksVersion.Luks1));
        Assert.Equal(32, KeySlotLayout.Plan(Enumerable.Range(0, 31).Select(i => $"h{i}").ToList(), LuksVersion.Luks2).Keys.Count);
    }

    [Theory]
    [InlineData("32G", 32L << 30)]
    [InlineData("512M", 512L << 20)]
    [InlineData("1GiB", 1L << 30)]
    [InlineData("4096", 4096L)]
    [InlineData("2t", 2L << 40)]
    public void Sizes_parse_in_powers_of_1024(string text, long bytes) => Assert.Equal(bytes, DiskSize.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("G")]
    [InlineData("-1G")]
    [InlineData("1.5G")]
    [InlineData("1000")]       // not whole sectors
    [InlineData("0")]
    [InlineData("12X")]
    [InlineData("99999999999T")]
    public void Bad_sizes_are_refused(string text) => Assert.Throws<FormatException>(() => DiskSize.Parse(text));

    [Fact]
    public void Ciphers_parse_as_cryptsetup_writes_them()
    {
        Assert.Equal(("aes", "xts-plain64", 64), (CipherSpec.Default.Cipher, CipherSpec.Default.Mode, CipherSpec.Default.VolumeKeyBytes));
        Assert.Equal(("serpent", "cbc-essiv:sha256", 32), Tuple(CipherSpec.Parse("serpent-cbc-essiv:sha256")));
        Assert.Throws<FormatException>(() => CipherSpec.Parse("aes"));
        Assert.Throws<FormatException>(() => CipherSpec.Parse("AES-XTS-PLAIN64"));
        Assert.Throws<FormatException>(() => CipherSpec.Parse("aes-xts;rm"));

        static (string, string, int) Tuple(CipherSpec c) => (c.Cipher, c.Mode, c.VolumeKeyBytes);
    }

    [Fact]
    public void A_new_disk_goes_to_the_next_free_virtio_target_and_the_title_is_marked_once()
    {
        const string Domain = """
            <domain type='qemu'><name>web</name><uuid>0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f</uuid>
              <devices>
                <disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/></disk>
                <disk type='file' device='cdrom'><target dev='vdc' bus='virtio'/></disk>
              </devices>
            </domain>
            """;
        var disk = new EncryptedDomainDisk(DiskBackend.Native, "/srv/web-d1.luks", IsBlockDevice: false, Guid.Parse("11111111-2222-3333-4444-555555555555"));

        var (xml, dev) = DomainDiskEditor.AddDisk(Domain, disk);
        var (again, second) = DomainDiskEditor.AddDisk(xml, disk with { SourcePath = "/srv/web-d3.luks" });

        Assert.Equal(("vdb", "vdd"), (dev, second));
        var root = XDocument.Parse(again).Root!;
        Assert.Equal($"web {DomainDiskEditor.TitleMarker}", root.Element("title")!.Value);
        Assert.Equal("uuid", ((XElement)root.Element("title")!.PreviousNode!).Name.LocalName);
        var added = root.Element("devices")!.Elements("disk").Single(d => (string?)d.Element("target")!.Attribute("dev") == "vdb");
        Assert.Equal("11111111-2222-3333-4444-555555555555", (string?)added.Element("encryption")!.Element("secret")!.Attribute("uuid"));
    }

    [Fact]
    public void A_classic_title_is_left_as_it_is()
    {
        var root = XElement.Parse("<domain><name>web</name><title>web [encrypted volume, manual running]</title></domain>");

        DomainDiskEditor.MarkTitle(root);

        Assert.Equal("web [encrypted volume, manual running]", root.Element("title")!.Value);
    }

    [Theory]
    [InlineData("/v/web-d0.raw", "web-d0.raw.luks")]
    [InlineData("/v/web-d1.qcow2", "web-d1.raw.luks")]
    [InlineData("/v/disk", "disk.raw.luks")]
    [InlineData("/dev/vg0/db", "db.raw.luks")]
    public void Containers_are_named_after_their_source(string source, string container) =>
        Assert.Equal(container, DiskMigrationPlan.ContainerName(source));

    [Fact]
    public void Switching_a_qcow2_disk_keeps_target_and_address_and_drops_the_backing_chain()
    {
        var domain = XElement.Parse("""
            <domain><name>web</name><devices>
              <disk type='file' device='disk'>
                <driver name='qemu' type='qcow2' cache='none'/>
                <source file='/v/web.qcow2'/>
                <backingStore type='file'><format type='raw'/><source file='/v/base.raw'/></backingStore>
                <target dev='vda' bus='virtio'/>
                <address type='pci' slot='0x04'/>
              </disk>
            </devices></domain>
            """);

        DomainDiskEditor.SwitchDisk(domain, "vda", new EncryptedDomainDisk(DiskBackend.DmCrypt, "/var/lib/libvirt/images/web.raw.decrypted", IsBlockDevice: true, null));

        var disk = domain.Element("devices")!.Element("disk")!;
        Assert.Equal("block", (string?)disk.Attribute("type"));
        Assert.Equal(("raw", "none"), ((string?)disk.Element("driver")!.Attribute("type"), (string?)disk.Element("driver")!.Attribute("cache")));
        Assert.Equal("/var/lib/libvirt/images/web.raw.decrypted", (string?)disk.Element("source")!.Attribute("dev"));
        Assert.Null(disk.Element("backingStore"));
        Assert.Null(disk.Element("encryption"));
        Assert.NotNull(disk.Element("address"));
    }
}
