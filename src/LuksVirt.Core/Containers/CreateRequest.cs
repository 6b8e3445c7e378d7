using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Containers;

/// <summary>What <c>luksvirt create</c> was asked to do.</summary>
public sealed record CreateRequest
{
    public required string Guest { get; init; }

    /// <summary>An absolute file or device path, or VG/LV.</summary>
    public required string Disk { get; init; }

    /// <summary>Required for a new file or LV; for an existing device, its size is used.</summary>
    public long? SizeBytes { get; init; }

    /// <summary>Null means auto (see <see cref="BackendSelection.Resolve"/>).</summary>
    public DiskBackend? Backend { get; init; }

    public CipherSpec Cipher { get; init; } = CipherSpec.Default;

    /// <summary>LUKS1 for a dmcrypt container (native is always LUKS1).</summary>
    public bool Luks1 { get; init; }

    public IReadOnlyList<string> Holders { get; init; } = [];

    /// <summary>Split one key among <see cref="Holders"/>: any this many of them open the
    /// container (Shamir's scheme, one share file each); null gives each holder a key.</summary>
    public int? Quorum { get; init; }

    public required string KeysOut { get; init; }

    /// <summary>Format an existing file or a device that holds data.</summary>
    public bool Force { get; init; }

    /// <summary>Define a minimal domain when the guest does not exist yet.</summary>
    public bool DefineDomain { get; init; }

    /// <summary>"kvm" or "qemu" for <see cref="DefineDomain"/>; null: kvm when /dev/kvm exists.</summary>
    public string? DomainType { get; init; }

    /// <summary>dmcrypt: the link path the domain uses (default IMAGE-DIR/STEM.decrypted).</summary>
    public string? LinkPath { get; init; }

    public string? ConfigPath { get; init; }

    public string ConnectUri { get; init; } = LibvirtConnection.DefaultUri;
}

/// <summary>A key file written for a holder (never the key itself).</summary>
public sealed record KeyFileReport(string Holder, int Slot, bool Recovery, string Path)
{
    /// <summary>The file is the holder's share of a quorum slot, useless alone.</summary>
    public bool Share { get; init; }
}

/// <summary>What <c>create</c> did.</summary>
public sealed record CreateReport(
    string Guest,
    string Container,
    ContainerTargetKind Kind,
    string Backend,
    string LuksVersion,
    string LuksUuid,
    string Cipher,
    long ContainerBytes,
    long PayloadBytes,
    string TargetDev,
    string DomainDiskPath,
    Guid? SecretUuid,
    bool DomainDefined,
    string? ConfigFile,
    IReadOnlyList<KeyFileReport> KeyFiles,
    IReadOnlyList<string> Warnings)
{
    /// <summary>"quorum 2 of 3: alice, bob, carol" when the holders share a quorum slot.</summary>
    public string? Quorum { get; init; }
}
