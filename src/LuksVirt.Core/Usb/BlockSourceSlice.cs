namespace LuksVirt.Core.Usb;

/// <summary>A window onto part of another source, e.g. one partition of a stick. Reads never
/// leave the window.</summary>
internal sealed class BlockSourceSlice : IBlockSource
{
    private readonly IBlockSource _inner;
    private readonly long _offset;

    public BlockSourceSlice(IBlockSource inner, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, inner.Length - offset);
        _inner = inner;
        _offset = offset;
        Length = length;
    }

    public long Length { get; }

    public int? LogicalSectorSize => _inner.LogicalSectorSize;

    public int Read(long offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (offset >= Length)
        {
            return 0;
        }

        var count = (int)Math.Min(destination.Length, Length - offset);
        return _inner.Read(_offset + offset, destination[..count]);
    }
}
