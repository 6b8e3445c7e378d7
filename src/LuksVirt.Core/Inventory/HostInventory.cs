namespace LuksVirt.Core.Inventory;

/// <summary>
/// Which guests of this host have which encrypted disks, in start order. (Not named
/// <c>Inventory</c>: a type named like its namespace cannot be referred to from sibling
/// namespaces such as <c>LuksVirt.Core.Unlock</c> without qualification.)
/// </summary>
/// <param name="Guests">Sorted by <see cref="Guest.Order"/> (unordered last), then by name.</param>
/// <param name="AllowedImageDirectories">Where dm-crypt links may be created.</param>
internal sealed record HostInventory(IReadOnlyList<Guest> Guests, IReadOnlyList<string> AllowedImageDirectories);
