namespace LuksVirt.Core.Usb;

/// <summary>Bytes a whole stick may have read from it, shared by its partition tables and all
/// its FAT volumes (<see cref="FatReaderLimits.MaxBytesRead"/>): a stick with many partitions
/// costs no more than one.</summary>
internal sealed class ReadBudget(long maxBytesRead)
{
    private long _spent;

    /// <summary>Takes <paramref name="bytes"/> from the budget, or throws a limit error naming
    /// <paramref name="what"/> when they are not there.</summary>
    public void Spend(int bytes, string what)
    {
        if (bytes > maxBytesRead - _spent)
        {
            throw FatFormatException.LimitExceeded($"reading {what} would exceed the limit of {maxBytesRead} bytes read from the device");
        }

        _spent += bytes;
    }
}
