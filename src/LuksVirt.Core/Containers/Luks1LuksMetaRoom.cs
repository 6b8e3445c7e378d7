namespace LuksVirt.Core.Containers;

/// <summary>
/// Where the payload of a LUKS1 container LuksVirt formats begins, so that clevis can bind it:
/// clevis keeps a LUKS1 binding's JWE in LUKSMeta, in the gap between the end of the key material
/// and the payload, and cannot bind a container without one. The payload starts at the first MiB
/// boundary at least <see cref="RoomBytes"/> past the key material, whatever the device's
/// topology says. With the standard key sizes (128 to 512 bits) that is where libcryptsetup's
/// default 1 MiB alignment puts it anyway (2 MiB for a 512-bit key, with 28 KiB of room); only
/// the guarantee is new.
/// </summary>
internal static class Luks1LuksMetaRoom
{
    /// <summary>LUKSMeta's header page and three pages of data: a Tang binding's JWE fills one.</summary>
    public const long RoomBytes = 16 << 10;

    private const long Page = 4096;
    private const long Alignment = 1 << 20;
    private const int KeySlots = 8;

    /// <summary>LUKS1 splits each slot's copy of the volume key into this many stripes (AF).</summary>
    private const int Stripes = 4000;

    /// <summary>The end of the key material: the header page, then eight slots of
    /// <c>key bytes x 4000</c> stripes, each rounded up to 4 KiB (as LUKS_generate_phdr lays them out).</summary>
    public static long KeyMaterialEndBytes(int volumeKeyBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(volumeKeyBytes);
        return Page + (KeySlots * AlignUp((long)volumeKeyBytes * Stripes, Page));
    }

    /// <summary>For <see cref="LuksVirt.Interop.Cryptsetup.LuksFormatOptions.Luks1PayloadAlignmentSectors"/>:
    /// an alignment equal to the wanted payload offset puts the payload exactly there, as that
    /// offset lies past the key material.</summary>
    public static ulong PayloadAlignmentSectors(int volumeKeyBytes) =>
        checked((ulong)(AlignUp(AlignUp(KeyMaterialEndBytes(volumeKeyBytes), Page) + RoomBytes, Alignment) / DiskSize.SectorBytes));

    private static long AlignUp(long value, long unit) => (value + unit - 1) / unit * unit;
}
