using LuksVirt.Core.Containers;
using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Migration;

/// <summary>What <c>luksvirt encrypt-vm</c> was asked to do.</summary>
public sealed record EncryptVmRequest
{
    public required string Guest { get; init; }

    /// <summary>Null means auto (see <see cref="BackendSelection.Resolve"/>).</summary>
    public DiskBackend? Backend { get; init; }

    public bool Luks1 { get; init; }

    public IReadOnlyList<string> Holders { get; init; } = [];

    public required string KeysOut { get; init; }

    /// <summary>Where the containers go; default: next to each source image.</summary>
    public string? OutputDirectory { get; init; }

    public bool DeletePlaintext { get; init; }

    public string? ConfigPath { get; init; }

    public string ConnectUri { get; init; } = LibvirtConnection.DefaultUri;
}

/// <summary>One disk moved into a container.</summary>
/// <param name="Sha256">Hex SHA-256 of the plaintext, equal for the source and the decrypted copy.</param>
/// <param name="Seconds">Wall time of encrypting, writing, reading back and verifying.</param>
public sealed record MigratedDiskReport(
    string TargetDev,
    string Source,
    string SourceFormat,
    string Container,
    string DomainDiskPath,
    Guid? SecretUuid,
    string LuksUuid,
    long PlaintextBytes,
    string Sha256,
    double Seconds,
    bool PlaintextDeleted);

/// <summary>What <c>encrypt-vm</c> did. An empty <see cref="Disks"/> list means there was nothing
/// left to encrypt (a rerun after success).</summary>
public sealed record EncryptVmReport(
    string Guest,
    string Backend,
    string LuksVersion,
    IReadOnlyList<MigratedDiskReport> Disks,
    IReadOnlyList<string> AlreadyEncrypted,
    IReadOnlyList<string> LeftAlone,
    string? ConfigFile,
    IReadOnlyList<KeyFileReport> KeyFiles,
    IReadOnlyList<string> Warnings);

/// <summary>Where long work reports its bytes (the CLI draws progress bars from it).</summary>
public interface IMigrationProgress
{
    /// <summary>Starts a phase of <paramref name="totalBytes"/>; the returned callback adds done
    /// bytes and may be called from several threads at once.</summary>
    Action<long> BeginPhase(string description, long totalBytes);
}
