namespace LuksVirt.Core.Inventory;

/// <summary>A <c>&lt;disk&gt;</c> of the configuration file, validated.</summary>
/// <param name="Source">The LUKS container, absolute and normalised.</param>
/// <param name="Target">DmCrypt: the link path (absolute, normalised, inside an allowed image directory). Native: null.</param>
/// <param name="Location"><c>FILE:LINE</c> of the <c>&lt;disk&gt;</c> element.</param>
public sealed record ConfiguredDisk(DiskBackend Backend, string Source, string? Target, string Location);

/// <summary>A <c>&lt;vm&gt;</c> of the configuration file, validated.</summary>
public sealed record ConfiguredGuest(string Name, int? Order, IReadOnlyList<ConfiguredDisk> Disks, string Location);

/// <summary>What the configuration file says; empty when there is none (discovery only).</summary>
/// <param name="FilePath">The file read, or the default path that was absent.</param>
/// <param name="FileExisted">False when no file was found and discovery alone decides.</param>
/// <param name="Warnings">Ignored unknown attributes and elements (<c>FILE:LINE: ...</c>), kept for forward compatibility.</param>
public sealed record InventoryConfig(
    string FilePath,
    bool FileExisted,
    IReadOnlyList<ConfiguredGuest> Guests,
    IReadOnlyList<string> AllowedImageDirectories,
    IReadOnlyList<string> Warnings)
{
    /// <summary>Where dm-crypt links may live when the file does not say.</summary>
    public static readonly IReadOnlyList<string> DefaultAllowedImageDirectories = ["/var/lib/libvirt/images"];

    public static InventoryConfig Empty(string filePath) =>
        new(filePath, FileExisted: false, [], DefaultAllowedImageDirectories, []);
}
