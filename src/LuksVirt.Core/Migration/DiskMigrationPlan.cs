using LuksVirt.Core.Containers;

namespace LuksVirt.Core.Migration;

/// <summary>
/// Where one plaintext disk goes. The container is written as <see cref="IncompletePath"/>
/// (<c>CONTAINER.incomplete</c>) and renamed to <see cref="ContainerPath"/> only after it has
/// been verified; a non-raw source is first flattened into <see cref="FlattenedPath"/>.
/// Leftovers under these two names are what an interrupted run leaves, and a rerun removes them.
/// </summary>
internal sealed record DiskMigrationPlan(
    PlaintextDisk Disk,
    string ContainerPath,
    long PlaintextBytes,
    DmCryptConfigEntry? Config,
    Guid? SecretUuid)
{
    public const string IncompleteSuffix = ".incomplete";

    public string IncompletePath => ContainerPath + IncompleteSuffix;

    /// <summary>The raw copy of a qcow2 (or other non-raw) source; null for raw sources.</summary>
    public string? FlattenedPath => Disk.IsRaw ? null : ContainerPath + ".plaintext" + IncompleteSuffix;

    /// <summary>The path the domain's disk will use: the container (native) or the link (dmcrypt).</summary>
    public string DomainDiskPath => Config?.Target ?? ContainerPath;

    /// <summary>"web-d0.raw" and "web-d0.qcow2" both become "web-d0.raw.luks": the content is raw.</summary>
    public static string ContainerName(string sourcePath)
    {
        var name = Path.GetFileName(sourcePath);
        var extension = Path.GetExtension(name);
        if (extension is ".raw" or ".img" or ".qcow2" or ".qcow" or ".vmdk" or ".vdi" or ".qed" && name.Length > extension.Length)
        {
            name = name[..^extension.Length];
        }

        return name + ".raw.luks";
    }

    /// <summary>The link stem for a dmcrypt disk: the container name without ".luks".</summary>
    public static string LinkStem(string containerPath) =>
        ContainerCreator.Stem(new ContainerTarget(ContainerTargetKind.File, containerPath, Exists: false));
}
