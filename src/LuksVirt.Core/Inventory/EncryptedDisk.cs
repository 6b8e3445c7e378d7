namespace LuksVirt.Core.Inventory;

/// <summary>
/// One LUKS container a guest needs. Built only through <see cref="CreateDmCrypt"/> or
/// <see cref="CreateNative"/> so that the backend-specific members are always consistent.
/// </summary>
internal sealed record EncryptedDisk
{
    /// <summary>Prefix of every dm-crypt mapping, as in the classic recipe (<c>luks-&lt;basename of target&gt;</c>).</summary>
    public const string MappingNamePrefix = "luks-";

    private EncryptedDisk(DiskBackend backend, string containerPath, string? linkPath, string? mappingName, Guid? secretUuid, string? targetDev, string sourceLocation)
    {
        Backend = backend;
        ContainerPath = containerPath;
        LinkPath = linkPath;
        MappingName = mappingName;
        SecretUuid = secretUuid;
        TargetDev = targetDev;
        SourceLocation = sourceLocation;
    }

    public DiskBackend Backend { get; }

    /// <summary>The LUKS container (the classic <c>source</c>): an image file or a block device.</summary>
    public string ContainerPath { get; }

    /// <summary>DmCrypt only: the symlink the domain XML uses (the classic <c>target</c>).</summary>
    public string? LinkPath { get; }

    /// <summary>DmCrypt only: <c>luks-</c> + basename of <see cref="LinkPath"/>.</summary>
    public string? MappingName { get; }

    /// <summary>Native only: the libvirt secret the domain's <c>&lt;encryption&gt;</c> names.</summary>
    public Guid? SecretUuid { get; }

    /// <summary>Native only: the guest's device name (<c>&lt;target dev=...&gt;</c>, e.g. <c>vda</c>).</summary>
    public string? TargetDev { get; }

    /// <summary>Where this disk was declared: <c>FILE:LINE</c>, or <c>libvirt domain NAME</c> when discovered.</summary>
    public string SourceLocation { get; }

    /// <summary>The mapping name for a link path; valid or not (see <see cref="MappingNames.Validate"/>).</summary>
    public static string MappingNameFor(string linkPath) => MappingNamePrefix + Path.GetFileName(linkPath);

    public static EncryptedDisk CreateDmCrypt(string containerPath, string linkPath, string sourceLocation)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerPath);
        ArgumentException.ThrowIfNullOrEmpty(linkPath);
        ArgumentException.ThrowIfNullOrEmpty(sourceLocation);
        var mappingName = MappingNameFor(linkPath);
        var problem = MappingNames.Validate(mappingName);
        if (problem is not null)
        {
            throw new ArgumentException($"link path '{linkPath}' gives an invalid mapping name: {problem}", nameof(linkPath));
        }

        return new EncryptedDisk(DiskBackend.DmCrypt, containerPath, linkPath, mappingName, secretUuid: null, targetDev: null, sourceLocation);
    }

    public static EncryptedDisk CreateNative(string containerPath, Guid secretUuid, string targetDev, string sourceLocation)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerPath);
        ArgumentException.ThrowIfNullOrEmpty(targetDev);
        ArgumentException.ThrowIfNullOrEmpty(sourceLocation);
        return new EncryptedDisk(DiskBackend.Native, containerPath, linkPath: null, mappingName: null, secretUuid, targetDev, sourceLocation);
    }
}
