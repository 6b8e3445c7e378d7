using LuksVirt.Core.Inventory;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Inventory;

public sealed class ConfigExtensionTests
{
    [Fact]
    public void Order_backend_and_allowed_image_dirs_are_read()
    {
        using var scratch = new ConfigScratch();
        Directory.CreateDirectory(scratch.Expand("{D}/srv"));
        var config = scratch.Load("""
            <vms allowed-image-dirs='{I}:{D}/srv'>
              <vm name='db' order='10'>
                <luks>
                  <disk backend='dmcrypt' source='{C}/c1.raw' target='{D}/srv/db.raw'/>
                  <disk backend='native' source='{C}/c2.raw'/>
                </luks>
              </vm>
              <vm name='web' order='0'>
                <luks><disk source='{C}/c3.raw' target='{I}/web.raw'/></luks>
              </vm>
            </vms>
            """);

        Assert.Empty(config.Warnings);
        Assert.Equal([scratch.Images, scratch.Expand("{D}/srv")], config.AllowedImageDirectories);
        Assert.Equal([10, 0], config.Guests.Select(g => g.Order));
        Assert.Equal(
            [
                new ConfiguredDisk(DiskBackend.DmCrypt, scratch.Expand("{C}/c1.raw"), scratch.Expand("{D}/srv/db.raw"), $"{scratch.ConfigPath}:4"),
                new ConfiguredDisk(DiskBackend.Native, scratch.Expand("{C}/c2.raw"), null, $"{scratch.ConfigPath}:5"),
            ],
            config.Guests[0].Disks);
        Assert.Equal(DiskBackend.DmCrypt, Assert.Single(config.Guests[1].Disks).Backend);
    }

    [Fact]
    public void A_vm_without_disks_only_sets_the_order_of_a_discovered_guest()
    {
        using var scratch = new ConfigScratch();
        var config = scratch.Load("<vms>\n  <vm name='mail' order='5'/>\n</vms>\n");

        var guest = Assert.Single(config.Guests);
        Assert.Equal(("mail", 5, $"{scratch.ConfigPath}:2"), (guest.Name, guest.Order, guest.Location));
        Assert.Empty(guest.Disks);
    }

    [Fact]
    public void Unknown_attributes_and_elements_are_ignored_with_a_warning_naming_the_line()
    {
        using var scratch = new ConfigScratch();
        var config = scratch.Load("""
            <vms colour='blue' allowed-image-dirs='{I}' xmlns:x='urn:example'>
              <defaults/>
              <vm name='a' autostart='no'>
                <description>text</description>
                <luks mode='x'>
                  <disk source='{C}/c1.raw' target='{I}/a.raw' cipher='aes'/>
                  <partition/>
                </luks>
              </vm>
            </vms>
            """);

        var file = scratch.ConfigPath;
        Assert.Equal(
            [
                $"{file}:1: unknown attribute 'colour' on <vms> ignored",
                $"{file}:2: unknown element <defaults> inside <vms> ignored",
                $"{file}:3: unknown attribute 'autostart' on <vm> ignored",
                $"{file}:4: unknown element <description> inside <vm name='a'> ignored",
                $"{file}:5: unknown attribute 'mode' on <luks> ignored",
                $"{file}:6: unknown attribute 'cipher' on <disk> ignored",
                $"{file}:7: unknown element <partition> inside <luks> ignored",
            ],
            config.Warnings);
        Assert.Single(Assert.Single(config.Guests).Disks);
    }

    [Fact]
    public void Paths_are_normalised_before_they_are_compared()
    {
        using var scratch = new ConfigScratch();
        var config = scratch.Load("<vms allowed-image-dirs='{I}/'>\n<vm name='a'><luks><disk source='{C}//./c1.raw' target='{I}/./a.raw/'/></luks></vm>\n</vms>");

        Assert.Equal([scratch.Images], config.AllowedImageDirectories);
        var disk = Assert.Single(Assert.Single(config.Guests).Disks);
        Assert.Equal((scratch.Expand("{C}/c1.raw"), scratch.Expand("{I}/a.raw")), (disk.Source, disk.Target));
    }

    [Fact]
    public void A_block_device_is_a_valid_container()
    {
        using var scratch = new ConfigScratch();
        var config = scratch.Load("<vms allowed-image-dirs='{I}'><vm name='a'><luks><disk source='/dev/null' target='{I}/a.raw'/></luks></vm></vms>");

        Assert.Equal("/dev/null", Assert.Single(Assert.Single(config.Guests).Disks).Source);
    }

    [Fact]
    public void A_container_reached_through_a_symlink_exists()
    {
        using var scratch = new ConfigScratch();
        File.CreateSymbolicLink(scratch.Expand("{C}/link.raw"), scratch.Expand("{C}/c1.raw"));
        var config = scratch.Load("<vms allowed-image-dirs='{I}'><vm name='a'><luks><disk source='{C}/link.raw' target='{I}/a.raw'/></luks></vm></vms>");

        Assert.Single(Assert.Single(config.Guests).Disks);
    }

    [Fact]
    public void The_longest_valid_mapping_name_is_accepted()
    {
        using var scratch = new ConfigScratch();
        var name = new string('n', MappingNames.MaxLengthInBytes - EncryptedDisk.MappingNamePrefix.Length);
        var config = scratch.Load($"<vms allowed-image-dirs='{{I}}'><vm name='a'><luks><disk source='{{C}}/c1.raw' target='{{I}}/{name}'/></luks></vm></vms>");

        var target = Assert.Single(Assert.Single(config.Guests).Disks).Target!;
        Assert.Equal(127, EncryptedDisk.MappingNameFor(target).Length);
    }

    [Fact]
    public void An_absent_default_file_means_discovery_only()
    {
        using var directory = new TempDirectory("inventory");
        var path = directory.PathOf("absent/luksvirt.xml");

        var config = InventoryConfigLoader.LoadIfPresent(path);

        Assert.False(config.FileExisted);
        Assert.Equal(path, config.FilePath);
        Assert.Empty(config.Guests);
        Assert.Empty(config.Warnings);
        Assert.Equal(["/var/lib/libvirt/images"], config.AllowedImageDirectories);
    }

    [Fact]
    public void Without_an_explicit_path_the_default_path_is_read_if_present()
    {
        Assert.Equal("/etc/luksvirt/luksvirt.xml", InventoryConfigLoader.DefaultPath);
        var config = InventoryConfigLoader.LoadExplicitOrDefault(null);
        Assert.Equal(InventoryConfigLoader.DefaultPath, config.FilePath);
        Assert.Equal(File.Exists(InventoryConfigLoader.DefaultPath), config.FileExisted);
    }

    [Fact]
    public void An_explicit_path_that_does_not_exist_is_an_error()
    {
        using var directory = new TempDirectory("inventory");
        var path = directory.PathOf("missing.xml");

        var error = Assert.Throws<ConfigurationException>(() => InventoryConfigLoader.LoadExplicitOrDefault(path));

        Assert.Null(error.Line);
        Assert.Equal($"{path}: configuration file does not exist; check the --config path", error.Message);
    }

    [Fact]
    public void An_explicit_path_that_is_a_directory_is_an_error()
    {
        using var directory = new TempDirectory("inventory");

        var error = Assert.Throws<ConfigurationException>(() => InventoryConfigLoader.Load(directory.Path));

        Assert.Equal($"{directory.Path}: is a directory; name the XML configuration file", error.Message);
    }
}
