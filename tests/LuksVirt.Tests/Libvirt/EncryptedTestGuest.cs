using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Libvirt;

/// <summary>
/// The pieces of a guest with a QEMU-native LUKS disk, named uniquely: a 16 MiB LUKS1 image made
/// by the cryptsetup CLI, an ephemeral private volume secret and a TCG domain that only reaches
/// its firmware. Dispose removes whatever of it exists, through a connection of its own, even
/// when the test failed half-way.
/// </summary>
public sealed class EncryptedTestGuest : IDisposable
{
    private const long ImageBytes = 16 * 1024 * 1024;

    private readonly LibvirtdFixture _libvirtd;
    private readonly TempDirectory _directory = new("libvirt");

    public EncryptedTestGuest(LibvirtdFixture libvirtd)
    {
        _libvirtd = libvirtd;
        Name = LibvirtdFixture.UniqueName();
        ImagePath = _directory.PathOf(Name + ".img");
    }

    public string Name { get; }
    public Guid SecretUuid { get; } = Guid.NewGuid();
    public string ImagePath { get; }

    /// <summary>luksFormat with the key on standard input; the minimal PBKDF2 cost keeps it fast.</summary>
    public void CreateImage(ReadOnlySpan<byte> key)
    {
        using (var image = File.Create(ImagePath))
        {
            image.SetLength(ImageBytes);
        }

        ToolRunner.Run(
            "cryptsetup",
            ["luksFormat", "--batch-mode", "--type", "luks1", "--pbkdf-force-iterations", "1000", "--key-file=-", ImagePath],
            key).EnsureSuccess("cryptsetup luksFormat");
    }

    public string SecretXml =>
        $"""
        <secret ephemeral='yes' private='yes'>
          <uuid>{SecretUuid}</uuid>
          <usage type='volume'><volume>{ImagePath}</volume></usage>
        </secret>
        """;

    /// <summary>TCG, 64 MiB, no OS to boot (SeaBIOS just waits), no graphics.</summary>
    public string DomainXml =>
        $"""
        <domain type='qemu'>
          <name>{Name}</name>
          <memory unit='MiB'>64</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type></os>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='raw'/>
              <source file='{ImagePath}'/>
              <target dev='vda' bus='virtio'/>
              <encryption format='luks'>
                <secret type='passphrase' uuid='{SecretUuid}'/>
              </encryption>
            </disk>
            <controller type='usb' model='none'/>
            <memballoon model='none'/>
          </devices>
        </domain>
        """;

    public void Dispose()
    {
        try
        {
            using var connection = _libvirtd.Open();
            using (var domain = connection.TryLookupDomainByName(Name))
            {
                if (domain is not null)
                {
                    if (domain.IsActive)
                    {
                        domain.Destroy();
                    }

                    domain.Undefine();
                }
            }

            using var secret = connection.TryLookupSecretByUuid(SecretUuid);
            secret?.Undefine();
        }
        finally
        {
            _directory.Dispose();
        }
    }
}
