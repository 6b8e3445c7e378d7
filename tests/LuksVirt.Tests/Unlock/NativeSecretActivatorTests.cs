using LuksVirt.Core.Activation;
using LuksVirt.Core.Inventory;
using LuksVirt.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Unlock;

/// <summary>reliability.md "Security" 7: the secret QEMU reads a key from is ephemeral and
/// private, never stored under /etc/libvirt/secrets, and gone once removed.</summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class NativeSecretActivatorTests(LibvirtdFixture libvirtd)
{
    [Fact]
    public void The_secret_is_ephemeral_private_and_removable()
    {
        using var connection = libvirtd.Open();
        var activator = new NativeSecretActivator(connection);
        var uuid = Guid.NewGuid();
        var disk = EncryptedDisk.CreateNative("/var/tmp/luksvirt-tests/absent.luks", uuid, "vda", "test");
        using var key = SecretBuffer.GeneratePrintableKey();

        activator.Provide(disk, key);
        try
        {
            var read = ToolRunner.Run("virsh", "-c", libvirtd.Uri, "secret-get-value", uuid.ToString());
            Assert.NotEqual(0, read.ExitCode);
            Assert.Contains("private", read.StandardError, StringComparison.Ordinal);
            Assert.False(File.Exists($"/etc/libvirt/secrets/{uuid}.xml") || File.Exists($"/etc/libvirt/secrets/{uuid}.base64"));
        }
        finally
        {
            Assert.True(activator.Remove(uuid));
        }

        Assert.Null(connection.TryLookupSecretByUuid(uuid));
        Assert.False(activator.Remove(uuid));
    }

    [Fact]
    public void A_binary_key_is_refused_with_the_fix_and_no_secret_is_made()
    {
        using var connection = libvirtd.Open();
        var uuid = Guid.NewGuid();
        var disk = EncryptedDisk.CreateNative("/var/tmp/luksvirt-tests/absent.luks", uuid, "vda", "test");
        using var key = SecretBuffer.CopyOf([0x00, 0xff, 0x10, 0x80]);

        var error = Assert.Throws<ActivationException>(() => new NativeSecretActivator(connection).Provide(disk, key));

        Assert.Contains("enrol a text key", error.Message, StringComparison.Ordinal);
        Assert.Null(connection.TryLookupSecretByUuid(uuid));
    }

    [Fact]
    public void An_existing_persistent_secret_is_refused_not_reused()
    {
        using var connection = libvirtd.Open();
        var uuid = Guid.NewGuid();
        using (connection.DefineSecret($"<secret ephemeral='yes' private='no'><uuid>{uuid}</uuid></secret>"))
        {
        }

        try
        {
            var disk = EncryptedDisk.CreateNative("/var/tmp/luksvirt-tests/absent.luks", uuid, "vda", "test");
            using var key = SecretBuffer.GeneratePrintableKey();

            var error = Assert.Throws<ActivationException>(() => new NativeSecretActivator(connection).Provide(disk, key));

            Assert.Contains($"virsh secret-undefine {uuid}", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            using var secret = connection.LookupSecretByUuid(uuid);
            secret.Undefine();
        }
    }
}
