using LuksVirt.Core.Inventory;
using LuksVirt.Tests.Infrastructure;
using static LuksVirt.Tests.Inventory.DomainXmlSamples;

namespace LuksVirt.Tests.Inventory;

public sealed class DomainDiskDiscoveryTests
{
    [Fact]
    public void Finds_luks_disks_in_both_placements_and_on_block_devices()
    {
        var xml = Domain(
            "vm1",
            LuksFileDisk("/srv/a.luks", "vda", SecretA),
            PlainFileDisk("/srv/plain.raw", "vdb"),
            LuksFileDiskInSource("/srv/b.luks", "vdc", SecretB),
            LuksBlockDisk("/dev/vg1/c.crypted", "vdd", SecretA));

        var result = DomainDiskDiscovery.FindEncryptedDisks("vm1", xml);

        Assert.Empty(result.Warnings);
        Assert.Equal(
            [
                EncryptedDisk.CreateNative("/srv/a.luks", Guid.Parse(SecretA), "vda", "libvirt domain vm1"),
                EncryptedDisk.CreateNative("/srv/b.luks", Guid.Parse(SecretB), "vdc", "libvirt domain vm1"),
                EncryptedDisk.CreateNative("/dev/vg1/c.crypted", Guid.Parse(SecretA), "vdd", "libvirt domain vm1"),
            ],
            result.Disks);
        Assert.All(result.Disks, d => Assert.Equal(DiskBackend.Native, d.Backend));
        Assert.All(result.Disks, d => Assert.Null(d.LinkPath));
        Assert.Equal(["/srv/a.luks", "/srv/plain.raw", "/srv/b.luks", "/dev/vg1/c.crypted"], result.DiskSources);
    }

    [Fact]
    public void Disks_without_luks_encryption_are_ignored_silently()
    {
        var xml = Domain(
            "plain",
            PlainFileDisk("/srv/plain.raw", "vda"),
            """
                <disk type='file' device='disk'>
                  <driver name='qemu' type='qcow2'/>
                  <source file='/srv/old.qcow2'/>
                  <target dev='vdb' bus='virtio'/>
                  <encryption format='qcow'><secret type='passphrase' uuid='11111111-2222-3333-4444-555555555555'/></encryption>
                </disk>
                <disk type='file' device='cdrom'>
                  <source file='/srv/install.iso'/>
                  <target dev='sda' bus='sata'/>
                </disk>
                <disk type='file' device='cdrom'>
                  <target dev='sdb' bus='sata'/>
                </disk>
            """);

        var result = DomainDiskDiscovery.FindEncryptedDisks("plain", xml);

        Assert.Empty(result.Disks);
        Assert.Empty(result.Warnings);
        Assert.Equal(["/srv/plain.raw", "/srv/old.qcow2", "/srv/install.iso"], result.DiskSources);
    }

    [Theory]
    [InlineData("<secret type='passphrase' usage='luks-a'/>", "'/srv/a.luks' has <encryption format='luks'> without <secret type='passphrase' uuid='...'/>")]
    [InlineData("<secret type='passphrase' uuid='not-a-uuid'/>", "'/srv/a.luks' has <encryption format='luks'> without <secret type='passphrase' uuid='...'/>")]
    [InlineData("<secret type='volume' uuid='11111111-2222-3333-4444-555555555555'/>", "'/srv/a.luks' has <encryption format='luks'> without <secret type='passphrase' uuid='...'/>")]
    [InlineData("", "'/srv/a.luks' has <encryption format='luks'> without <secret type='passphrase' uuid='...'/>")]
    public void Luks_encryption_without_a_usable_secret_uuid_is_a_warning(string secret, string expected)
    {
        var xml = Domain("vm1", $"""
                <disk type='file' device='disk'>
                  <source file='/srv/a.luks'/>
                  <target dev='vda' bus='virtio'/>
                  <encryption format='luks'>{secret}</encryption>
                </disk>
            """);

        var result = DomainDiskDiscovery.FindEncryptedDisks("vm1", xml);

        Assert.Empty(result.Disks);
        Assert.Equal($"libvirt domain vm1: disk vda: {expected}; name the libvirt secret by UUID in the domain XML; disk ignored", Assert.Single(result.Warnings));
    }

    [Fact]
    public void Luks_inside_qcow2_or_on_a_network_disk_is_not_a_container_and_is_warned_about()
    {
        var xml = Domain("vm1", $"""
                <disk type='file' device='disk'>
                  <driver name='qemu' type='qcow2'/>
                  <source file='/srv/a.qcow2'><encryption format='luks'><secret type='passphrase' uuid='{SecretA}'/></encryption></source>
                  <target dev='vda' bus='virtio'/>
                </disk>
                <disk type='network' device='disk'>
                  <source protocol='rbd' name='pool/image'><host name='ceph'/></source>
                  <target dev='vdb' bus='virtio'/>
                  <encryption format='luks'><secret type='passphrase' uuid='{SecretB}'/></encryption>
                </disk>
            """);

        var result = DomainDiskDiscovery.FindEncryptedDisks("vm1", xml);

        Assert.Empty(result.Disks);
        Assert.Equal(
            [
                "libvirt domain vm1: disk vda: '/srv/a.qcow2' uses driver type 'qcow2' with LUKS encryption inside the image format; only raw LUKS containers are managed; disk ignored",
                "libvirt domain vm1: disk vdb: LUKS encryption on a disk of type 'network' without a local file or device source is not supported; disk ignored",
            ],
            result.Warnings);
    }

    [Fact]
    public void Malformed_domain_xml_is_a_warning_not_a_crash()
    {
        var result = DomainDiskDiscovery.FindEncryptedDisks("broken", "<domain><devices>");

        Assert.Empty(result.Disks);
        Assert.StartsWith("libvirt domain broken: domain XML is not well-formed", Assert.Single(result.Warnings), StringComparison.Ordinal);
    }

    /// <summary>The real libvirtd: what it stores and returns for both placements is what discovery reads.</summary>
    [Fact]
    public void Reads_the_inactive_xml_of_a_domain_defined_in_the_real_libvirtd()
    {
        using var directory = new TempDirectory("inventory");
        var a = directory.PathOf("a.luks");
        var b = directory.PathOf("b.luks");
        File.WriteAllBytes(a, new byte[1 << 20]);
        File.WriteAllBytes(b, new byte[1 << 20]);
        var name = $"luksvirt-test-inventory-{Guid.NewGuid():N}"[..40];
        var definition = directory.PathOf("domain.xml");
        File.WriteAllText(definition, Domain(name, LuksFileDisk(a, "vda", SecretA), LuksFileDiskInSource(b, "vdb", SecretB), PlainFileDisk(directory.PathOf("plain.raw"), "vdc")));

        ToolRunner.Run("virsh", "-c", "qemu:///system", "define", definition).EnsureSuccess("virsh define");
        try
        {
            var xml = ToolRunner.Run("virsh", "-c", "qemu:///system", "dumpxml", "--inactive", name).EnsureSuccess("virsh dumpxml").StandardOutput;

            var result = DomainDiskDiscovery.FindEncryptedDisks(name, xml);

            Assert.Empty(result.Warnings);
            Assert.Equal(
                [(a, Guid.Parse(SecretA), "vda"), (b, Guid.Parse(SecretB), "vdb")],
                result.Disks.Select(d => (d.ContainerPath, d.SecretUuid!.Value, d.TargetDev!)));
        }
        finally
        {
            ToolRunner.Run("virsh", "-c", "qemu:///system", "undefine", name).EnsureSuccess("virsh undefine");
        }
    }
}
