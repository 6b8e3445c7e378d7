namespace LuksVirt.Core.Inventory;

/// <summary>Where a guest of the inventory was found.</summary>
[Flags]
internal enum GuestOrigin
{
    None = 0,

    /// <summary>A <c>&lt;vm&gt;</c> in the configuration file.</summary>
    Configuration = 1,

    /// <summary>A libvirt domain with at least one <c>&lt;encryption format='luks'&gt;</c> disk.</summary>
    Discovery = 2,
}

/// <summary>A guest and every encrypted disk it needs open before it may start.</summary>
/// <param name="Order">Start order, lower first; null starts after every ordered guest.</param>
/// <param name="Uuid">The libvirt domain's UUID.</param>
/// <param name="ConfigLocation"><c>FILE:LINE</c> of its <c>&lt;vm&gt;</c>, or null when only discovered.</param>
internal sealed record Guest(string Name, Guid Uuid, int? Order, IReadOnlyList<EncryptedDisk> Disks, GuestOrigin Origin, string? ConfigLocation);
