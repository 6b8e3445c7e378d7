using Microsoft.Win32.SafeHandles;
using static LuksVirt.Interop.Interop.Libc.OpenFlags;

namespace LuksVirt.Interop.Libc;

/// <summary>
/// Files opened with O_DIRECT: reads and writes go between the caller's buffer and the device,
/// bypassing the page cache. Used for bulk copies, where buffered writes pile up gigabytes of
/// dirty pages that a final fsync then writes at a fraction of the device's speed, and where a
/// read-back must come from the disk, not from the cache. Buffers, offsets and lengths must be
/// multiples of <see cref="Alignment"/>.
/// </summary>
public static class UnbufferedFile
{
    /// <summary>4 KiB covers the logical block size of every disk LuksVirt expects (512 or 4096).</summary>
    public const int Alignment = 4096;

    /// <summary>Opens an existing file O_DIRECT (read-only or read-write, never following a final
    /// symbolic link). Null when its file system has no direct I/O (tmpfs answers EINVAL): use
    /// buffered I/O then.</summary>
    public static SafeFileHandle? TryOpen(string path, bool writable)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            return Interop.Libc.Open(path, (writable ? O_RDWR : O_RDONLY) | O_DIRECT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        }
        catch (IOException e) when (e.HResult == Interop.Libc.Errno.EINVAL)
        {
            return null;
        }
    }

    /// <summary>
    /// A pinned buffer of <paramref name="length"/> bytes whose start is aligned for O_DIRECT:
    /// a pinned array one alignment larger, sliced at the first aligned address (the GC never
    /// moves a pinned array, so the slice stays aligned).
    /// </summary>
    public static Memory<byte> AllocateAligned(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var array = GC.AllocateUninitializedArray<byte>(length + Alignment, pinned: true);
        var address = System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(array, 0);
        var skip = (int)((Alignment - (address % Alignment)) % Alignment);
        return array.AsMemory(skip, length);
    }
}
