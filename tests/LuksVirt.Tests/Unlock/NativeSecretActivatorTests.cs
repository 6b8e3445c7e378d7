using LuksVirt.Core.Activation;
using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Secrets;
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
        using var runLock = RunLock.Hold();
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
            Assert.Equal(SecretRemoval.Removed, activator.Remove(uuid));
        }

        Assert.Null(connection.TryLookupSecretByUuid(uuid));
        Assert.Equal(SecretRemoval.Absent, activator.Remove(uuid));
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

    /// <summary>Issue 10, item 4: an ephemeral, private secret LuksVirt did not make is neither
    /// filled with a key (LuksVirt could not remove it afterwards) nor removed.</summary>
    [Fact]
    public void An_ephemeral_private_secret_not_made_by_LuksVirt_is_neither_used_nor_removed()
    {
        using var connection = libvirtd.Open();
        var uuid = Guid.NewGuid();
        using (connection.DefineSecret($"<secret ephemeral='yes' private='yes'><uuid>{uuid}</uuid><description>an administrator's</description></secret>"))
        {
        }

        try
        {
            var disk = EncryptedDisk.CreateNative("/var/tmp/luksvirt-tests/absent.luks", uuid, "vda", "test");
            using var key = SecretBuffer.GeneratePrintableKey();
            var activator = new NativeSecretActivator(connection);

            var error = Assert.Throws<ActivationException>(() => activator.Provide(disk, key));

            Assert.Contains("not made by LuksVirt", error.Message, StringComparison.Ordinal);
            Assert.Contains($"virsh secret-undefine {uuid}", error.Message, StringComparison.Ordinal);
            Assert.Equal(SecretRemoval.NotLuksVirts, activator.Remove(uuid));
            using var still = connection.TryLookupSecretByUuid(uuid);
            Assert.NotNull(still);
        }
        finally
        {
            using var secret = connection.LookupSecretByUuid(uuid);
            secret.Undefine();
        }
    }

    /// <summary>Issue 10, item 4: an administrator's persistent secret that holds a value is
    /// reported by Remove, never undefined.</summary>
    [Fact]
    public void An_administrators_persistent_secret_is_not_removed()
    {
        using var connection = libvirtd.Open();
        var uuid = Guid.NewGuid();
        var path = $"/var/tmp/luksvirt-tests/admin-{uuid:N}.luks";
        // Even LuksVirt's own description does not make a persistent, readable secret LuksVirt's.
        using (var defined = connection.DefineSecret(
            $"<secret ephemeral='no' private='no'><uuid>{uuid}</uuid><description>{SecretOwnership.DescriptionMarker}{path}</description>" +
            $"<usage type='volume'><volume>{path}</volume></usage></secret>"))
        {
            defined.SetValue("a stored passphrase"u8);
        }

        try
        {
            Assert.Equal(SecretRemoval.NotLuksVirts, new NativeSecretActivator(connection).Remove(uuid));

            using var still = connection.TryLookupSecretByUuid(uuid);
            Assert.NotNull(still);
        }
        finally
        {
            using var secret = connection.LookupSecretByUuid(uuid);
            secret.Undefine();
        }
    }
}
