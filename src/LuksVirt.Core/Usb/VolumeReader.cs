namespace LuksVirt.Core.Usb;

/// <summary>
/// The one door through which the FAT reader touches the device: every read is checked against
/// the device's end and counted against the stick's <see cref="ReadBudget"/>, and a short read
/// (truncated image, stick pulled) is an error instead of silently zero bytes.
/// </summary>
internal sealed class VolumeReader(IBlockSource source, ReadBudget budget)
{
    private long _bytesRead;

    public long Length => source.Length;

    /// <summary>Bytes read through this reader (the budget may be shared with others).</summary>
    public long BytesRead => _bytesRead;

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/>;
    /// <paramref name="what"/> names the structure for the error message.</summary>
    public void ReadExactly(long offset, Span<byte> destination, string what)
    {
        if (offset < 0 || offset > source.Length - destination.Length)
        {
            throw new FatFormatException($"{what} lies beyond the end of the device ({destination.Length} bytes at offset {offset}, device holds {source.Length} bytes)");
        }

        budget.Spend(destination.Length, what);
        _bytesRead += destination.Length;
        var total = 0;
        while (total < destination.Length)
        {
            var read = source.Read(offset + total, destination[total..]);
            if (read <= 0 || read > destination.Length - total)
            {
                throw new FatFormatException($"the device ended while reading {what} (offset {offset + total}): truncated image or device removed");
            }

            total += read;
        }
    }
}
