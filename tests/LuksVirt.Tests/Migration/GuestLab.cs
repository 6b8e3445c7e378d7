using System.Security;
using System.Security.Cryptography;
using System.Text.Json;
using System.Xml.Linq;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Migration;

/// <summary>
/// A scratch directory, libvirt guests and the luksvirt command lines for the create and
/// encrypt-vm tests, plus independent witnesses: QEMU decrypting a container (key on stdin),
/// SHA-256 of files, the domain's XML as libvirt keeps it. Disposing removes guests (and any
/// libvirt secret their XML names) and files.
/// </summary>
public sealed class GuestLab : IDisposable
{
    private readonly LibvirtConnection _connection;
    private readonly List<string> _guests = [];

    public GuestLab(LibvirtdFixture libvirtd, string prefix)
    {
        ArgumentNullException.ThrowIfNull(libvirtd);
        Directory = new TempDirectory(prefix);
        _connection = libvirtd.Open();
        KeysOut = Directory.PathOf("keys-out");
        UnlockKeys = Directory.PathOf("unlock-keys");
        System.IO.Directory.CreateDirectory(UnlockKeys);
        File.SetUnixFileMode(UnlockKeys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        EmptyConfig = Directory.PathOf("empty.xml");
        File.WriteAllText(EmptyConfig, "<vms/>");
        LogPath = Directory.PathOf("luksvirt.log");
    }

    public TempDirectory Directory { get; }
    public string KeysOut { get; }
    public string UnlockKeys { get; }
    public string EmptyConfig { get; }
    public string LogPath { get; }

    public string NewGuestName(string role)
    {
        var name = EncryptedGuests.UniqueName(role);
        _guests.Add(name);
        return name;
    }

    /// <summary>Defines a TCG guest with plaintext disks (path, driver type, target dev).</summary>
    public void DefineGuest(string name, params (string Path, string Format, string Dev)[] disks)
    {
        var diskXml = string.Concat(disks.Select(d =>
            $"<disk type='file' device='disk'><driver name='qemu' type='{d.Format}'/><source file='{SecurityElement.Escape(d.Path)}'/><target dev='{d.Dev}' bus='virtio'/></disk>"));
        _connection.DefineDomain($"""
            <domain type='qemu'>
              <name>{name}</name>
              <memory unit='MiB'>64</memory>
              <os><type arch='x86_64'>hvm</type></os>
              <devices>{diskXml}</devices>
            </domain>
            """).Dispose();
    }

    public string InactiveXml(string name)
    {
        using var domain = _connection.LookupDomainByName(name);
        return domain.GetXml(inactive: true);
    }

    public XElement Disk(string name, string dev) =>
        XDocument.Parse(InactiveXml(name)).Root!.Element("devices")!.Elements("disk")
            .Single(d => (string?)d.Element("target")?.Attribute("dev") == dev);

    public DomainState State(string name)
    {
        using var domain = _connection.LookupDomainByName(name);
        return domain.State;
    }

    public bool Autostart(string name)
    {
        using var domain = _connection.LookupDomainByName(name);
        return domain.Autostart;
    }

    public void SetAutostart(string name, bool value)
    {
        using var domain = _connection.LookupDomainByName(name);
        domain.Autostart = value;
    }

    public void Start(string name)
    {
        using var domain = _connection.LookupDomainByName(name);
        domain.Start();
    }

    public bool Exists(string name)
    {
        using var domain = _connection.TryLookupDomainByName(name);
        return domain is not null;
    }

    public ToolResult Luksvirt(params string[] arguments) => LuksVirtCli.Run([.. arguments, "--log", LogPath]);

    /// <summary>Copies a key file from --keys-out into the unlock key directory and runs
    /// <c>luksvirt unlock</c> for that guest (discovery only: native disks need no config).</summary>
    /// <param name="presentAs">The name the key file gets in the key directory (default: its own).</param>
    public ToolResult Unlock(string guest, string keyFileName, string? presentAs = null)
    {
        File.Copy(Path.Combine(KeysOut, keyFileName), Path.Combine(UnlockKeys, presentAs ?? keyFileName));
        return LuksVirtCli.Run(["unlock", "--keys", UnlockKeys, "--config", EmptyConfig, "--state", Directory.PathOf("state.json"), "--log", LogPath, "--json", "--vm", guest]);
    }

    public SecretBuffer ReadKey(string fileName) => SecretBuffer.CopyOf(File.ReadAllBytes(Path.Combine(KeysOut, fileName)));

    /// <summary>A file of <paramref name="bytes"/> random bytes; returns its SHA-256 (hex).</summary>
    public static string WriteRandomFile(string path, long bytes)
    {
        var buffer = new byte[4 << 20];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0))
        {
            for (long written = 0; written < bytes; written += buffer.Length)
            {
                var chunk = buffer.AsSpan(0, (int)Math.Min(buffer.Length, bytes - written));
                RandomNumberGenerator.Fill(chunk);
                file.Write(chunk);
                hash.AppendData(chunk);
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public static string Sha256(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    /// <summary>What QEMU's own LUKS driver decrypts from <paramref name="container"/> with
    /// <paramref name="key"/> (given on stdin), as SHA-256: an independent check of the payload.</summary>
    public string QemuDecryptedSha256(string container, ReadOnlySpan<byte> key)
    {
        var output = Directory.PathOf("qemu-decrypted-" + Guid.NewGuid().ToString("N")[..8] + ".raw");
        try
        {
            ToolRunner.Run(
                "qemu-img",
                ["convert", "--object", "secret,id=s0,file=/dev/stdin", "--image-opts", $"driver=luks,key-secret=s0,file.filename={container}", "-O", "raw", output],
                key,
                TimeSpan.FromMinutes(2)).EnsureSuccess("qemu-img convert (decrypt)");
            return Sha256(output);
        }
        finally
        {
            File.Delete(output);
        }
    }

    /// <summary>SHA-256 of the guest-visible content of any image QEMU reads (qcow2...).</summary>
    public string QemuPlainSha256(string image, string format)
    {
        var output = Directory.PathOf("qemu-plain-" + Guid.NewGuid().ToString("N")[..8] + ".raw");
        try
        {
            ToolRunner.Run("qemu-img", ["convert", "-f", format, "-O", "raw", image, output]).EnsureSuccess("qemu-img convert (flatten)");
            return Sha256(output);
        }
        finally
        {
            File.Delete(output);
        }
    }

    public static JsonElement Json(ToolResult result)
    {
        try
        {
            return JsonDocument.Parse(result.StandardOutput).RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"not JSON (exit {result.ExitCode}): {result.StandardOutput}\n{result.StandardError}", e);
        }
    }

    public void Dispose()
    {
        foreach (var name in _guests)
        {
            using var domain = _connection.TryLookupDomainByName(name);
            if (domain is null)
            {
                continue;
            }

            var xml = domain.GetXml(inactive: true);
            if (domain.IsActive)
            {
                domain.Destroy();
            }

            domain.Undefine();
            foreach (var uuid in XDocument.Parse(xml).Descendants("secret").Select(s => (string?)s.Attribute("uuid")).OfType<string>())
            {
                using var secret = _connection.TryLookupSecretByUuid(Guid.Parse(uuid));
                secret?.Undefine();
            }
        }

        _connection.Dispose();
        Directory.Dispose();
    }
}
