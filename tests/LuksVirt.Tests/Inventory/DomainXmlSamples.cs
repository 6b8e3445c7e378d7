namespace LuksVirt.Tests.Inventory;

/// <summary>Domain XML as libvirt writes it (libvirt 9: both encryption placements kept as given).</summary>
internal static class DomainXmlSamples
{
    public const string SecretA = "11111111-2222-3333-4444-555555555555";
    public const string SecretB = "11111111-2222-3333-4444-666666666666";

    public static string Domain(string name, params string[] disks) => $"""
        <domain type='qemu'>
          <name>{name}</name>
          <memory unit='KiB'>65536</memory>
          <os><type arch='x86_64' machine='pc'>hvm</type></os>
          <devices>
            <emulator>/usr/bin/qemu-system-x86_64</emulator>
        {string.Join("\n", disks)}
          </devices>
        </domain>
        """;

    /// <summary>Encryption as a child of &lt;disk&gt; (the classic placement).</summary>
    public static string LuksFileDisk(string path, string dev, string secret) => $"""
            <disk type='file' device='disk'>
              <driver name='qemu' type='raw'/>
              <source file='{path}'/>
              <target dev='{dev}' bus='virtio'/>
              <encryption format='luks' engine='qemu'>
                <secret type='passphrase' uuid='{secret}'/>
              </encryption>
            </disk>
        """;

    /// <summary>Encryption as a child of &lt;disk&gt;&lt;source&gt; (newer libvirt).</summary>
    public static string LuksFileDiskInSource(string path, string dev, string secret) => $"""
            <disk type='file' device='disk'>
              <driver name='qemu' type='raw'/>
              <source file='{path}'>
                <encryption format='luks'>
                  <secret type='passphrase' uuid='{secret}'/>
                </encryption>
              </source>
              <target dev='{dev}' bus='virtio'/>
            </disk>
        """;

    public static string LuksBlockDisk(string device, string dev, string secret) => $"""
            <disk type='block' device='disk'>
              <driver name='qemu' type='raw'/>
              <source dev='{device}'/>
              <target dev='{dev}' bus='virtio'/>
              <encryption format='luks'>
                <secret type='passphrase' uuid='{secret}'/>
              </encryption>
            </disk>
        """;

    public static string PlainFileDisk(string path, string dev) => $"""
            <disk type='file' device='disk'>
              <driver name='qemu' type='raw'/>
              <source file='{path}'/>
              <target dev='{dev}' bus='virtio'/>
            </disk>
        """;
}
