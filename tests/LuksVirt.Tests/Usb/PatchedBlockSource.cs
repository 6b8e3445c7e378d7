using LuksVirt.Core.Usb;

namespace LuksVirt.Tests.Usb;

/// <summary>
/// A pristine image seen through a few changed bytes, cut short or stretched (bytes past the
/// image read as zero): mutations cost nothing to apply, so thousands of corrupted variants of a
/// 33 MiB FAT32 image need no copy each, and a "2 TiB stick" needs no 2 TiB.
/// </summary>
public sealed class PatchedBlockSource : IBlockSource
{
    private readonly ReadOnlyMemory<byte> _image;
    private readonly Dictionary<long, byte> _patches = [];

    public PatchedBlockSource(ReadOnlyMemory<byte> image, long? length = null)
    {
        _image = image;
        Length = length ?? image.Length;
    }

    public long Length { get; set; }

    /// <summary>Bytes readable before the device "is pulled": reads past it return nothing
    /// although <see cref="Length"/> promised more.</summary>
    public long ReadableLength { get; set; } = long.MaxValue;

    public int Patches => _patches.Count;

    public byte this[long offset]
    {
        get => _patches.TryGetValue(offset, out var value) ? value : offset < _image.Length ? _image.Span[(int)offset] : (byte)0;
        set => _patches[offset] = value;
    }

    public void Write(long offset, ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            this[offset + i] = bytes[i];
        }
    }

    /// <summary>Bytes handed to the reader so far: the work it did, whatever the machine's speed.</summary>
    public long BytesRead { get; private set; }

    public int Read(long offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var end = Math.Min(Length, ReadableLength);
        if (offset >= end)
        {
            return 0;
        }

        var count = (int)Math.Min(destination.Length, end - offset);
        BytesRead += count;
        var target = destination[..count];
        if (offset < _image.Length)
        {
            var fromImage = (int)Math.Min(count, _image.Length - offset);
            _image.Span.Slice((int)offset, fromImage).CopyTo(target);
            target[fromImage..].Clear();
        }
        else
        {
            target.Clear();
        }

        foreach (var (at, value) in _patches)
        {
            if (at >= offset && at < offset + count)
            {
                target[(int)(at - offset)] = value;
            }
        }

        return count;
    }
}
