using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LuksVirt.Tests.Libvirt;

/// <summary>The binding against the real libvirtd and QEMU (qemu:///system).</summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class QemuSystemTests(LibvirtdFixture libvirtd, ITestOutputHelper output)
{
    private const string SecretsDirectory = "/etc/libvirt/secrets";
    private static readonly TimeSpan StateTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void Connection_reports_qemu_and_the_daemon_versions()
    {
        using var connection = libvirtd.Open();

        Assert.Equal("QEMU", connection.HypervisorType);
        Assert.Equal(libvirtd.Uri, connection.Uri);
        Assert.True(connection.IsAlive);
        Assert.True(connection.DaemonVersion >= 9_000_000, $"libvirtd {connection.DaemonVersion}");
        Assert.True(connection.HypervisorVersion >= 7_002_000, $"QEMU {connection.HypervisorVersion}");
    }

    [Fact]
    public void Missing_domain_and_secret_throw_their_not_found_exceptions()
    {
        using var connection = libvirtd.Open();

        var domain = Assert.Throws<DomainNotFoundException>(() => connection.LookupDomainByName(LibvirtdFixture.UniqueName()));
        var secret = Assert.Throws<SecretNotFoundException>(() => connection.LookupSecretByUuid(Guid.NewGuid()));

        Assert.Equal(42, domain.Code); // VIR_ERR_NO_DOMAIN
        Assert.Equal(66, secret.Code); // VIR_ERR_NO_SECRET
        Assert.Null(connection.TryLookupSecretByUuid(Guid.NewGuid()));
    }

    [Fact]
    public async Task Encrypted_guest_runs_on_an_ephemeral_private_secret_and_stops()
    {
        using var key = SecretBuffer.GeneratePrintableKey();
        using var guest = new EncryptedTestGuest(libvirtd);
        guest.CreateImage(key.Span);
        using var connection = libvirtd.Open();

        using (var secret = connection.DefineSecret(guest.SecretXml))
        {
            secret.SetValue(key.Span);
            Assert.Equal(guest.SecretUuid, secret.Uuid);
            Assert.Equal(SecretUsageType.Volume, secret.UsageType);
            Assert.Equal(guest.ImagePath, secret.UsageId);
            Assert.Contains("ephemeral='yes' private='yes'", secret.GetXml(), StringComparison.Ordinal);
        }

        using (var byUsage = connection.LookupSecretByUsage(SecretUsageType.Volume, guest.ImagePath))
        {
            Assert.Equal(guest.SecretUuid, byUsage.Uuid);
        }

        var secrets = connection.ListAllSecrets();
        Assert.Contains(guest.SecretUuid, secrets.Select(s => s.Uuid));
        foreach (var listed in secrets)
        {
            listed.Dispose();
        }

        using var domain = connection.DefineDomain(guest.DomainXml);
        Assert.False(domain.Autostart);

        var running = connection.WaitForDomainStateAsync(domain, DomainState.Running, StateTimeout);
        Assert.False(running.IsCompleted);
        StartOrExplain(domain, guest.Name);
        Assert.Equal(DomainState.Running, await running);
        Assert.Throws<LibvirtOperationInvalidException>(domain.Start);

        // The value never leaves libvirtd and never touches its disk.
        var reveal = ToolRunner.Run("virsh", "-c", libvirtd.Uri, "secret-get-value", guest.SecretUuid.ToString());
        output.WriteLine(reveal.StandardError);
        Assert.NotEqual(0, reveal.ExitCode);
        Assert.Contains("private", reveal.StandardError, StringComparison.Ordinal);
        Assert.Empty(FilesNamedAfter(guest.SecretUuid));

        // QEMU holds the key now: the secret can go while the guest keeps running.
        connection.LookupSecretByUuid(guest.SecretUuid).Undefine();
        Assert.Null(connection.TryLookupSecretByUuid(guest.SecretUuid));
        Assert.Equal(DomainState.Running, domain.State);

        var stopped = connection.WaitForDomainStateAsync(domain, DomainState.Shutoff, StateTimeout);
        Assert.False(stopped.IsCompleted);
        domain.Destroy();
        Assert.Equal(DomainState.Shutoff, await stopped);

        domain.Undefine();
        Assert.Null(connection.TryLookupDomainByName(guest.Name));
    }

    [Fact]
    public void Start_with_a_wrong_secret_value_fails_with_qemus_luks_error()
    {
        using var rightKey = SecretBuffer.GeneratePrintableKey();
        using var wrongKey = SecretBuffer.GeneratePrintableKey();
        using var guest = new EncryptedTestGuest(libvirtd);
        guest.CreateImage(rightKey.Span);
        using var connection = libvirtd.Open();
        using var secret = connection.DefineSecret(guest.SecretXml);
        secret.SetValue(wrongKey.Span);
        using var domain = connection.DefineDomain(guest.DomainXml);

        var exception = Assert.ThrowsAny<LibvirtException>(domain.Start);

        output.WriteLine(exception.Message);
        Assert.Equal("virDomainCreate", exception.Function);
        Assert.Contains("Invalid password, cannot unlock any keyslot", exception.Message, StringComparison.Ordinal);
        Assert.False(domain.IsActive);
    }

    [Fact]
    public void Domain_keeps_working_after_its_connection_is_disposed()
    {
        var name = LibvirtdFixture.UniqueName();
        var connection = libvirtd.Open();
        var domain = connection.DefineDomain(
            $"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>");
        try
        {
            connection.Dispose();
            Assert.Throws<ObjectDisposedException>(() => connection.ListAllDomains());

            // The domain's reference keeps the RPC connection open: real round trips still work.
            Assert.Equal(name, domain.Name);
            Assert.Contains($"<name>{name}</name>", domain.GetXml(inactive: true), StringComparison.Ordinal);
            domain.Autostart = true;
            Assert.True(domain.Autostart);
            domain.Autostart = false;
            Assert.Equal(DomainState.Shutoff, domain.State);
            domain.Undefine();
            Assert.Throws<DomainNotFoundException>(() => domain.State);
        }
        finally
        {
            domain.Dispose();
            using var cleanup = libvirtd.Open();
            cleanup.TryLookupDomainByName(name)?.Undefine();
        }
    }

    /// <summary>A start that should work but fails gets QEMU's whole log in the test output.</summary>
    private void StartOrExplain(LibvirtDomain domain, string name)
    {
        try
        {
            domain.Start();
        }
        catch (LibvirtException)
        {
            output.WriteLine(LibvirtdFixture.QemuLogOf(name));
            throw;
        }
    }

    private static string[] FilesNamedAfter(Guid uuid) =>
        Directory.Exists(SecretsDirectory) ? Directory.GetFiles(SecretsDirectory, uuid + "*") : [];
}
