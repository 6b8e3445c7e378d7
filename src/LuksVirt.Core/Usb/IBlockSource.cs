namespace LuksVirt.Core.Usb;

/// <summary>
/// Random-access bytes of a device, an image file or a part of either. The FAT reader treats
/// every byte it gets from here as hostile.
/// </summary>
public interface IBlockSource
{
    /// <summary>Bytes the source holds.</summary>
    long Length { get; }

    /// <summary>Reads up to <paramref name="destination"/>.Length bytes at
    /// <paramref name="offset"/>; returns how many were read, fewer only at the end of the source
    /// (0 at or past it).</summary>
    int Read(long offset, Span<byte> destination);

    /// <summary>The logical sector size the device reports (a block device: 512 or 4096), which
    /// partition tables count in; null when it reports none (an image file).</summary>
    int? LogicalSectorSize => null;
}
