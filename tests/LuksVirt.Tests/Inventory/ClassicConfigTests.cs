using LuksVirt.Core.Inventory;

namespace LuksVirt.Tests.Inventory;

/// <summary>The classic recipe's <c>decrypt-run-vms.xml</c> (classic-recipe.md section 9) must load unchanged.</summary>
public sealed class ClassicConfigTests
{
    /// <summary>Byte for byte the document of the recipe.</summary>
    internal const string ClassicDocument = """
        <vms>
          <vm name='example.net'>
            <luks>
              <disk source='/var/lib/libvirt/images-crypted/example.net-d0.raw.crypted'
                    target='/var/lib/libvirt/images/example.net-d0.raw.decrypted' />
            </luks>
          </vm>
          <vm name='example.com'>
            <luks>
              <disk source='/var/lib/libvirt/images-crypted/example.com-d0.raw.crypted'
                    target='/var/lib/libvirt/images/example.com-d0.raw.decrypted' />
              <disk source='/var/lib/libvirt/images-crypted/example.com-d1.raw.crypted'
                    target='/var/lib/libvirt/images/example.com-d1.raw.decrypted' />
            </luks>
          </vm>
        </vms>

        """;

    private const string RealContainerDirectory = "/var/lib/libvirt/images-crypted";

    private static readonly string[] RealContainers =
    [
        "/var/lib/libvirt/images-crypted/example.net-d0.raw.crypted",
        "/var/lib/libvirt/images-crypted/example.com-d0.raw.crypted",
        "/var/lib/libvirt/images-crypted/example.com-d1.raw.crypted",
    ];

    [Fact]
    public void Classic_document_moved_into_a_temp_dir_parses_as_dmcrypt_disks()
    {
        using var scratch = new ConfigScratch();
        // Same lines; only the path prefixes move, and <vms> names the temp image directory.
        var text = ClassicDocument
            .Replace("<vms>", "<vms allowed-image-dirs='{I}'>", StringComparison.Ordinal)
            .Replace("/var/lib/libvirt/images-crypted/", "{C}/", StringComparison.Ordinal)
            .Replace("/var/lib/libvirt/images/", "{I}/", StringComparison.Ordinal);
        foreach (var name in new[] { "example.net-d0.raw.crypted", "example.com-d0.raw.crypted", "example.com-d1.raw.crypted" })
        {
            File.WriteAllBytes(Path.Combine(scratch.Containers, name), []);
        }

        var config = scratch.Load(text);

        Assert.True(config.FileExisted);
        Assert.Empty(config.Warnings);
        Assert.Equal([scratch.Images], config.AllowedImageDirectories);
        Assert.Equal(["example.net", "example.com"], config.Guests.Select(g => g.Name));
        Assert.All(config.Guests, g => Assert.Null(g.Order));
        Assert.Equal($"{scratch.ConfigPath}:2", config.Guests[0].Location);
        Assert.Equal($"{scratch.ConfigPath}:8", config.Guests[1].Location);

        var net = Assert.Single(config.Guests[0].Disks);
        Assert.Equal(new ConfiguredDisk(DiskBackend.DmCrypt, $"{scratch.Containers}/example.net-d0.raw.crypted", $"{scratch.Images}/example.net-d0.raw.decrypted", $"{scratch.ConfigPath}:4"), net);
        Assert.Equal(
            [
                new ConfiguredDisk(DiskBackend.DmCrypt, $"{scratch.Containers}/example.com-d0.raw.crypted", $"{scratch.Images}/example.com-d0.raw.decrypted", $"{scratch.ConfigPath}:10"),
                new ConfiguredDisk(DiskBackend.DmCrypt, $"{scratch.Containers}/example.com-d1.raw.crypted", $"{scratch.Images}/example.com-d1.raw.decrypted", $"{scratch.ConfigPath}:12"),
            ],
            config.Guests[1].Disks);
    }

    [Fact]
    public void Classic_document_with_its_real_paths_parses_when_the_containers_exist()
    {
        using var scratch = new ConfigScratch();
        var path = scratch.Write(ClassicDocument);
        Assert.Equal(ClassicDocument, File.ReadAllText(path));

        // The recipe's own paths under /var/lib/libvirt: create what is missing, remove only that.
        var createdDirectory = !Directory.Exists(RealContainerDirectory);
        var createdFiles = new List<string>();
        try
        {
            Directory.CreateDirectory(RealContainerDirectory);
            foreach (var container in RealContainers.Where(c => !File.Exists(c)))
            {
                using (File.Open(container, FileMode.CreateNew))
                {
                }

                createdFiles.Add(container);
            }

            var config = InventoryConfigLoader.Load(path);

            Assert.Empty(config.Warnings);
            Assert.Equal(["/var/lib/libvirt/images"], config.AllowedImageDirectories);
            Assert.Equal(["example.net", "example.com"], config.Guests.Select(g => g.Name));
            Assert.Equal(RealContainers, config.Guests.SelectMany(g => g.Disks).Select(d => d.Source));
            Assert.Equal(
                [
                    "/var/lib/libvirt/images/example.net-d0.raw.decrypted",
                    "/var/lib/libvirt/images/example.com-d0.raw.decrypted",
                    "/var/lib/libvirt/images/example.com-d1.raw.decrypted",
                ],
                config.Guests.SelectMany(g => g.Disks).Select(d => d.Target));
            Assert.All(config.Guests.SelectMany(g => g.Disks), d => Assert.Equal(DiskBackend.DmCrypt, d.Backend));
            Assert.Equal(
                ["luks-example.net-d0.raw.decrypted", "luks-example.com-d0.raw.decrypted", "luks-example.com-d1.raw.decrypted"],
                config.Guests.SelectMany(g => g.Disks).Select(d => EncryptedDisk.MappingNameFor(d.Target!)));
        }
        finally
        {
            createdFiles.ForEach(File.Delete);
            if (createdDirectory)
            {
                Directory.Delete(RealContainerDirectory);
            }
        }
    }

    [Fact]
    public void Classic_document_with_its_real_paths_names_the_first_missing_container_and_its_line()
    {
        Assert.False(File.Exists(RealContainers[0]), $"{RealContainers[0]} exists on this host; this test needs it absent");
        using var scratch = new ConfigScratch();
        var path = scratch.Write(ClassicDocument);

        var error = Assert.Throws<ConfigurationException>(() => InventoryConfigLoader.Load(path));

        Assert.Equal(4, error.Line);
        Assert.Equal($"{path}:4: container '{RealContainers[0]}' does not exist; create it (luksvirt create) or fix the path", error.Message);
    }
}
