using LuksVirt.Core.Inventory;
using static LuksVirt.Tests.Inventory.DomainXmlSamples;

namespace LuksVirt.Tests.Inventory;

public sealed class InventoryBuilderTests
{
    private const string File = "/etc/luksvirt/luksvirt.xml";

    private static readonly string[] AllGuests = [];

    private static InventoryConfig Config(params ConfiguredGuest[] guests) =>
        new(File, FileExisted: true, guests, ["/var/lib/libvirt/images"], []);

    private static ConfiguredGuest Vm(string name, int line, int? order = null, params ConfiguredDisk[] disks) =>
        new(name, order, disks, $"{File}:{line}");

    private static ConfiguredDisk DmCrypt(string source, string target, int line) =>
        new(DiskBackend.DmCrypt, source, target, $"{File}:{line}");

    private static ConfiguredDisk Native(string source, int line) =>
        new(DiskBackend.Native, source, null, $"{File}:{line}");

    private static DomainDescription Dom(string name, params string[] disks) =>
        new(name, Guid.NewGuid(), Domain(name, disks));

    [Fact]
    public void Config_and_discovery_are_merged_per_guest()
    {
        var config = Config(Vm("app", 2, 1, DmCrypt("/crypt/app-d0", "/var/lib/libvirt/images/app-d0", 4)));
        var app = Dom("app",
            PlainFileDisk("/var/lib/libvirt/images/app-d0", "vda"),
            LuksFileDisk("/crypt/app-d1", "vdb", SecretA));

        var result = InventoryBuilder.Build(config, [app], AllGuests);

        Assert.Empty(result.Problems);
        Assert.Empty(result.Warnings);
        var guest = Assert.Single(result.Inventory.Guests);
        Assert.Equal(("app", app.Uuid, 1, GuestOrigin.Configuration | GuestOrigin.Discovery, $"{File}:2"), (guest.Name, guest.Uuid, guest.Order, guest.Origin, guest.ConfigLocation));
        Assert.Equal(
            [
                EncryptedDisk.CreateDmCrypt("/crypt/app-d0", "/var/lib/libvirt/images/app-d0", $"{File}:4"),
                EncryptedDisk.CreateNative("/crypt/app-d1", Guid.Parse(SecretA), "vdb", "libvirt domain app"),
            ],
            guest.Disks);
        Assert.Equal("luks-app-d0", guest.Disks[0].MappingName);
        Assert.Equal(["/var/lib/libvirt/images"], result.Inventory.AllowedImageDirectories);
    }

    [Fact]
    public void A_container_in_config_and_discovery_is_one_disk_with_the_domains_secret()
    {
        var config = Config(Vm("app", 2, null, Native("/crypt/app-d0", 4)));
        var app = Dom("app", LuksFileDiskInSource("/crypt/app-d0", "vda", SecretB));

        var result = InventoryBuilder.Build(config, [app], AllGuests);

        Assert.Empty(result.Problems);
        var disk = Assert.Single(Assert.Single(result.Inventory.Guests).Disks);
        Assert.Equal(EncryptedDisk.CreateNative("/crypt/app-d0", Guid.Parse(SecretB), "vda", $"{File}:4"), disk);
    }

    [Fact]
    public void A_discovered_guest_needs_no_config()
    {
        var web = Dom("web", LuksBlockDisk("/dev/vg/web", "vda", SecretA));

        var result = InventoryBuilder.Build(InventoryConfig.Empty(File), [web, Dom("plain", PlainFileDisk("/srv/p.raw", "vda"))], AllGuests);

        var guest = Assert.Single(result.Inventory.Guests);
        Assert.Equal(("web", GuestOrigin.Discovery, (int?)null, (string?)null), (guest.Name, guest.Origin, guest.Order, guest.ConfigLocation));
        Assert.Equal("/dev/vg/web", Assert.Single(guest.Disks).ContainerPath);
    }

    [Fact]
    public void A_config_vm_unknown_to_libvirt_is_a_problem_for_that_guest_only()
    {
        var config = Config(
            Vm("ghost", 7, null, DmCrypt("/crypt/g", "/var/lib/libvirt/images/g", 9)),
            Vm("app", 12, null, DmCrypt("/crypt/a", "/var/lib/libvirt/images/a", 14)));

        var result = InventoryBuilder.Build(config, [Dom("app", PlainFileDisk("/var/lib/libvirt/images/a", "vda"))], AllGuests);

        Assert.Equal(["app"], result.Inventory.Guests.Select(g => g.Name));
        var problem = Assert.Single(result.Problems);
        Assert.Equal("ghost", problem.GuestName);
        Assert.Equal($"{File}:7: guest 'ghost' is not defined in libvirt; define the domain or remove it from {File}:7", problem.Message);
    }

    [Fact]
    public void A_requested_name_in_neither_config_nor_discovery_is_a_usage_error()
    {
        var config = Config(Vm("app", 2, null, DmCrypt("/crypt/a", "/var/lib/libvirt/images/a", 4)));
        var domains = new[] { Dom("app"), Dom("plain", PlainFileDisk("/srv/p.raw", "vda")) };

        var error = Assert.Throws<UnknownGuestException>(() => InventoryBuilder.Build(config, domains, ["app", "nope", "plain"]));

        Assert.Equal(["nope", "plain"], error.Names);
        Assert.Equal($"unknown guest 'nope', 'plain': not in {File}, and libvirt has no domain of that name with a LUKS-encrypted disk; check the --vm name ('virsh list --all')", error.Message);
    }

    [Fact]
    public void Requested_names_filter_guests_and_their_problems()
    {
        var config = Config(
            Vm("ghost", 2, null, DmCrypt("/crypt/g", "/var/lib/libvirt/images/g", 3)),
            Vm("b", 5, null, DmCrypt("/crypt/b", "/var/lib/libvirt/images/b", 6)));
        var domains = new[]
        {
            Dom("a", LuksFileDisk("/crypt/a", "vda", SecretA)),
            Dom("b", PlainFileDisk("/var/lib/libvirt/images/b", "vda")),
            Dom("c", LuksFileDisk("/crypt/c", "vda", SecretA)),
        };

        var result = InventoryBuilder.Build(config, domains, ["c", "b"]);

        Assert.Equal(["b", "c"], result.Inventory.Guests.Select(g => g.Name));
        Assert.Empty(result.Problems);
    }

    [Fact]
    public void Guests_are_sorted_by_order_then_name_with_unordered_last()
    {
        var config = Config(Vm("zeta", 2, 1), Vm("late", 3, 20), Vm("alpha", 4, 20), Vm("first", 5, 0));
        var domains = new[] { "zeta", "late", "alpha", "first", "b-unordered", "a-unordered" }
            .Select(n => Dom(n, LuksFileDisk($"/crypt/{n}", "vda", SecretA)));

        var result = InventoryBuilder.Build(config, domains, AllGuests);

        Assert.Empty(result.Problems);
        Assert.Equal(["first", "zeta", "alpha", "late", "a-unordered", "b-unordered"], result.Inventory.Guests.Select(g => g.Name));
        Assert.Equal([0, 1, 20, 20, null, null], result.Inventory.Guests.Select(g => g.Order));
    }

    [Fact]
    public void A_dmcrypt_disk_that_the_domain_opens_natively_is_a_problem()
    {
        var config = Config(Vm("app", 2, null, DmCrypt("/crypt/a", "/var/lib/libvirt/images/a", 4)));

        var result = InventoryBuilder.Build(config, [Dom("app", LuksFileDisk("/crypt/a", "vda", SecretA))], AllGuests);

        Assert.Empty(result.Inventory.Guests);
        Assert.Equal(
            $"{File}:4: container '/crypt/a' is configured for dmcrypt, but domain 'app' opens it itself (<encryption format='luks'> on disk vda); set backend='native' or remove the disk from the configuration",
            Assert.Single(result.Problems).Message);
    }

    [Fact]
    public void A_native_config_disk_the_domain_does_not_encrypt_is_a_problem()
    {
        var config = Config(Vm("app", 2, null, Native("/crypt/a", 4)));

        var result = InventoryBuilder.Build(config, [Dom("app", PlainFileDisk("/crypt/a", "vda"))], AllGuests);

        Assert.Empty(result.Inventory.Guests);
        Assert.Equal(
            $"{File}:4: container '/crypt/a' is configured as native, but domain 'app' has no disk with that source carrying <encryption format='luks'><secret type='passphrase' uuid='...'/>; add the encryption to the domain XML or use backend='dmcrypt'",
            Assert.Single(result.Problems).Message);
    }

    [Fact]
    public void A_container_claimed_by_two_guests_is_a_problem_for_both()
    {
        var config = Config(Vm("a", 2, null, DmCrypt("/crypt/shared", "/var/lib/libvirt/images/a", 4)));
        var domains = new[]
        {
            Dom("a", PlainFileDisk("/var/lib/libvirt/images/a", "vda")),
            Dom("b", LuksFileDisk("/crypt/shared", "vda", SecretA)),
            Dom("c", LuksFileDisk("/crypt/c", "vda", SecretA)),
        };

        var result = InventoryBuilder.Build(config, domains, AllGuests);

        Assert.Equal(["c"], result.Inventory.Guests.Select(g => g.Name));
        Assert.Equal(
            [
                new InventoryProblem("a", "container '/crypt/shared' belongs to several guests ('a', 'b'); give each guest its own container"),
                new InventoryProblem("b", "container '/crypt/shared' belongs to several guests ('a', 'b'); give each guest its own container"),
            ],
            result.Problems);
    }

    [Fact]
    public void A_container_attached_twice_to_one_domain_is_a_problem()
    {
        var result = InventoryBuilder.Build(InventoryConfig.Empty(File), [Dom("a", LuksFileDisk("/crypt/x", "vda", SecretA), LuksFileDisk("/crypt/x", "vdb", SecretA))], AllGuests);

        Assert.Empty(result.Inventory.Guests);
        Assert.Equal("libvirt domain a: container '/crypt/x' is attached twice (disks vda and vdb); attach it once", Assert.Single(result.Problems).Message);
    }

    [Fact]
    public void A_config_vm_without_any_encrypted_disk_is_a_problem()
    {
        var result = InventoryBuilder.Build(Config(Vm("plain", 3, 5)), [Dom("plain", PlainFileDisk("/srv/p.raw", "vda"))], AllGuests);

        Assert.Empty(result.Inventory.Guests);
        Assert.Equal(
            $"{File}:3: guest 'plain' has no encrypted disk: none in the configuration and none with <encryption format='luks'> in its domain XML; add a <disk> or remove the <vm>",
            Assert.Single(result.Problems).Message);
    }

    [Fact]
    public void A_config_vm_without_disks_orders_a_discovered_guest()
    {
        var result = InventoryBuilder.Build(Config(Vm("web", 3, 5)), [Dom("web", LuksFileDisk("/crypt/w", "vda", SecretA))], AllGuests);

        var guest = Assert.Single(result.Inventory.Guests);
        Assert.Equal((5, GuestOrigin.Configuration | GuestOrigin.Discovery), (guest.Order, guest.Origin));
        Assert.Single(guest.Disks);
    }

    [Fact]
    public void A_link_the_domain_does_not_use_is_a_warning()
    {
        var config = Config(Vm("app", 2, null, DmCrypt("/crypt/a", "/var/lib/libvirt/images/a", 4)));

        var result = InventoryBuilder.Build(config, [Dom("app", PlainFileDisk("/var/lib/libvirt/images/other", "vda"))], AllGuests);

        Assert.Single(result.Inventory.Guests);
        Assert.Equal(
            [$"{File}:4: domain 'app' has no disk with source '/var/lib/libvirt/images/a'; the guest will not see this container unless its domain XML uses that path"],
            result.Warnings);
    }

    [Fact]
    public void Config_and_discovery_warnings_are_passed_on()
    {
        var config = new InventoryConfig(File, true, [], ["/var/lib/libvirt/images"], [$"{File}:1: unknown attribute 'x' on <vms> ignored"]);
        var domain = Dom("a", LuksFileDisk("/crypt/a", "vda", SecretA), """
                <disk type='file' device='disk'>
                  <source file='/crypt/b'/>
                  <target dev='vdb' bus='virtio'/>
                  <encryption format='luks'/>
                </disk>
            """);

        var result = InventoryBuilder.Build(config, [domain], AllGuests);

        Assert.Equal(2, result.Warnings.Count);
        Assert.Equal($"{File}:1: unknown attribute 'x' on <vms> ignored", result.Warnings[0]);
        Assert.StartsWith("libvirt domain a: disk vdb: '/crypt/b' has <encryption format='luks'> without", result.Warnings[1], StringComparison.Ordinal);
    }
}
