namespace LuksVirt.Core.Inventory;

/// <summary>Who decrypts a disk for its guest (see docs/architecture.md, "backends").</summary>
public enum DiskBackend
{
    /// <summary>QEMU's own LUKS driver, keyed by an ephemeral libvirt secret the domain XML names.</summary>
    Native,

    /// <summary>The host kernel: <c>/dev/mapper/luks-NAME</c>, linked at the path the domain uses (the classic recipe).</summary>
    DmCrypt,
}
