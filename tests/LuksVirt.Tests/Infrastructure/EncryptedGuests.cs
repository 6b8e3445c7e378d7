using System.Security;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Tests.Infrastructure;

/// <summary>A key a test hands out: its holder, the slot it sits in, and the key itself.</summary>
public sealed record TestKey(string Holder, SecretBuffer Secret) : IDisposable
{
    public void Dispose() => Secret.Dispose();
}

/// <summary>One LUKS1 container of a test guest, the libvirt secret UUID its domain names, and
/// which key sits in which slot.</summary>
public sealed record TestDisk(string Path, Guid SecretUuid, string TargetDev, IReadOnlyDictionary<int, TestKey> Slots);

public sealed record TestGuest(string Name, IReadOnlyList<TestDisk> Disks);

/// <summary>
/// Builds real guests for end-to-end tests: LUKS1 containers formatted through the binding
/// (the native backend, as QEMU opens them), and persistent libvirt domains of type 'qemu' (TCG)
/// with no OS that just sit in their firmware once started. Everything is removed on dispose.
/// </summary>
public sealed class EncryptedGuests : IDisposable
{
    private readonly LibvirtConnection _connection;
    private readonly List<TestGuest> _guests = [];

    public EncryptedGuests(string uri, TempDirectory images)
    {
        _connection = LibvirtConnection.Open(uri);
        Images = images;
    }

    public TempDirectory Images { get; }

    public IReadOnlyList<TestGuest> Guests => _guests;

    public static string UniqueName(string role) => $"lvt-{role}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>A LUKS1 container whose slots hold the given keys; PBKDF2 at the minimal cost
    /// unless <paramref name="iterations"/> asks for a slower one.</summary>
    public TestDisk CreateDisk(string name, string targetDev, IReadOnlyDictionary<int, TestKey> slots, uint? iterations = null)
    {
        var path = Images.PathOf(name + ".luks");
        using (var file = File.Create(path))
        {
            file.SetLength(8 << 20);
        }

        var pbkdf = iterations is null ? PbkdfSettings.MinimalPbkdf2 : new PbkdfSettings(PbkdfKind.Pbkdf2, Iterations: iterations);
        using var device = CryptDevice.Open(path);
        var ordered = slots.OrderBy(s => s.Key).ToList();
        var first = ordered[0];
        device.Format(new LuksFormatOptions(LuksVersion.Luks1, VolumeKeyBytes: 32, Pbkdf: pbkdf), first.Value.Secret.Span, first.Key);
        device.SetPbkdf(pbkdf);
        foreach (var (slot, key) in ordered.Skip(1))
        {
            device.AddKey(first.Value.Secret.Span, key.Secret.Span, slot);
        }

        return new TestDisk(path, Guid.NewGuid(), targetDev, slots);
    }

    /// <summary>Defines a persistent domain using the disks (native LUKS through a libvirt secret).</summary>
    public TestGuest Define(string name, params TestDisk[] disks) => Define(name, extraDevices: "", disks);

    /// <summary>As <see cref="Define(string, TestDisk[])"/>, with more device XML (e.g. a disk that
    /// makes the start fail).</summary>
    public TestGuest Define(string name, string extraDevices, params TestDisk[] disks)
    {
        var diskXml = string.Concat(disks.Select(d =>
            $"""
            <disk type='file' device='disk'>
              <driver name='qemu' type='raw'/>
              <source file='{SecurityElement.Escape(d.Path)}'/>
              <target dev='{d.TargetDev}' bus='virtio'/>
              <encryption format='luks'><secret type='passphrase' uuid='{d.SecretUuid}'/></encryption>
            </disk>
            """));
        var xml = $"""
            <domain type='qemu'>
              <name>{name}</name>
              <memory unit='MiB'>64</memory>
              <os><type arch='x86_64'>hvm</type></os>
              <devices>{diskXml}{extraDevices}</devices>
            </domain>
            """;
        _connection.DefineDomain(xml).Dispose();
        var guest = new TestGuest(name, disks);
        _guests.Add(guest);
        return guest;
    }

    /// <summary>Defines a domain whose disk is a block device at <paramref name="devicePath"/>,
    /// as the classic recipe's guests use a dm-crypt mapping through a link.</summary>
    public TestGuest DefinePlain(string name, string devicePath)
    {
        var xml = $"""
            <domain type='qemu'>
              <name>{name}</name>
              <memory unit='MiB'>64</memory>
              <os><type arch='x86_64'>hvm</type></os>
              <devices>
                <disk type='block' device='disk'>
                  <driver name='qemu' type='raw'/>
                  <source dev='{SecurityElement.Escape(devicePath)}'/>
                  <target dev='vda' bus='virtio'/>
                </disk>
              </devices>
            </domain>
            """;
        _connection.DefineDomain(xml).Dispose();
        var guest = new TestGuest(name, []);
        _guests.Add(guest);
        return guest;
    }

    public DomainState StateOf(TestGuest guest)
    {
        using var domain = _connection.LookupDomainByName(guest.Name);
        return domain.State;
    }

    /// <summary>Powers the guest off at once (virDomainDestroy).</summary>
    public void Destroy(TestGuest guest)
    {
        using var domain = _connection.LookupDomainByName(guest.Name);
        domain.Destroy();
    }

    /// <summary>True when libvirt holds a secret for any of the guest's disks.</summary>
    public bool HasAnySecret(TestGuest guest) => guest.Disks.Any(d =>
    {
        using var secret = _connection.TryLookupSecretByUuid(d.SecretUuid);
        return secret is not null;
    });

    public void Dispose()
    {
        foreach (var guest in _guests)
        {
            using var domain = _connection.TryLookupDomainByName(guest.Name);
            if (domain is not null)
            {
                if (domain.IsActive)
                {
                    domain.Destroy();
                }

                domain.Undefine();
            }

            foreach (var disk in guest.Disks)
            {
                using var secret = _connection.TryLookupSecretByUuid(disk.SecretUuid);
                secret?.Undefine();
            }
        }

        _connection.Dispose();
    }
}
