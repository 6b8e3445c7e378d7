using LuksVirt.Core.Activation;
using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Service;

namespace LuksVirt.Tests.Unlock;

/// <summary>
/// An already open mapping of a dmcrypt disk's name is taken as "already open" only when it is
/// that disk's container (hostile review item 22). The decision from its facts (backing device,
/// LUKS UUIDs) is tested here; the backing-device identity with real loop devices, as
/// libcryptsetup sets them up for image files. The mapping itself needs device-mapper: the lab
/// test scripts/lab/tests/dmcrypt-stale-mapping.sh covers it on a real kernel.
/// </summary>
public sealed class OpenMappingCheckTests : IDisposable
{
    private const string Uuid = "5b7a1c1e-2f6d-4c1b-9a57-0d6f0f6f7a11";
    private readonly TempDirectory _directory = new("mapping");

    public void Dispose() => _directory.Dispose();

    private static EncryptedDisk Disk => EncryptedDisk.CreateDmCrypt("/srv/crypted/web-d0.raw.crypted", "/srv/images/web-d0.raw.decrypted", "test");

    private static ActiveMapping Mapping(string? uuid) => new("luks-web-d0.raw.decrypted", "/dev/loop7", uuid);

    [Fact]
    public void The_mapping_of_this_container_is_taken()
    {
        Assert.Null(OpenMappingCheck.Mismatch(Disk, Mapping(Uuid), Uuid, backedByContainer: true));
        Assert.Null(OpenMappingCheck.Mismatch(Disk, Mapping(Uuid.ToUpperInvariant()), Uuid, backedByContainer: true));
        // When the backing device cannot be examined, the LUKS UUID decides.
        Assert.Null(OpenMappingCheck.Mismatch(Disk, Mapping(Uuid), Uuid, backedByContainer: null));
    }

    [Fact]
    public void A_mapping_of_another_container_a_copy_or_no_LUKS_at_all_is_refused_with_the_fix()
    {
        var other = OpenMappingCheck.Mismatch(Disk, Mapping("0c0ffee0-0000-4000-8000-000000000001"), Uuid, backedByContainer: false);
        var copy = OpenMappingCheck.Mismatch(Disk, Mapping(Uuid), Uuid, backedByContainer: false);
        var plain = OpenMappingCheck.Mismatch(Disk, Mapping(null), Uuid, backedByContainer: null);
        var unreadable = OpenMappingCheck.Mismatch(Disk, Mapping(Uuid), containerUuid: null, backedByContainer: true);

        Assert.Contains("another LUKS container", other, StringComparison.Ordinal);
        Assert.Contains("a copy?", copy, StringComparison.Ordinal);
        Assert.Contains("not as a LUKS container", plain, StringComparison.Ordinal);
        Assert.Contains("cannot be read", unreadable, StringComparison.Ordinal);
        Assert.All(new[] { other, copy, plain, unreadable }, m => Assert.Contains("cryptsetup close luks-web-d0.raw.decrypted", m, StringComparison.Ordinal));
    }

    [Fact]
    public void A_loop_device_is_its_backing_file_and_no_other()
    {
        var image = _directory.PathOf("web-d0.raw.crypted");
        var copy = _directory.PathOf("copy.raw.crypted");
        foreach (var path in new[] { image, copy })
        {
            using var file = File.Create(path);
            file.SetLength(1 << 20);
        }

        using var loop = LoopDevice.Attach(image);

        Assert.True(BackingDevice.IsContainer(loop.Node, image));
        Assert.False(BackingDevice.IsContainer(loop.Node, copy));
        // A block device as the container: the same device, whatever name reaches it.
        var alias = _directory.PathOf("alias");
        File.CreateSymbolicLink(alias, loop.Node);
        Assert.True(BackingDevice.IsContainer(loop.Node, alias));
    }
}
