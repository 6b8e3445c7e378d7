namespace LuksVirt.Core.Usb;

/// <summary>A block source over bytes in memory: test images, or a device already read whole.</summary>
internal sealed class MemoryBlockSource(ReadOnlyMemory<byte> bytes) : IBlockSource
{
    public long Length => bytes.Length;

    public int Read(long offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (offset >= bytes.Length)
        {
            return 0;
        }

        var available = bytes.Span[(int)offset..];
        var count = Math.Min(available.Length, destination.Length);
        available[..count].CopyTo(destination);
        return count;
    }
}
