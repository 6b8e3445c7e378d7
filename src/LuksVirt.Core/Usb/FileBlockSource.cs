using LuksVirt.Interop.Libc;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.Usb;

/// <summary>
/// A block device (/dev/sdb) or an image file, read with pread through
/// <see cref="RandomAccess"/>: no mount, no kernel file system driver involved.
/// </summary>
internal sealed class FileBlockSource : IBlockSource, IDisposable
{
    // Block devices report st_size 0; above this a probe gives up (no USB stick is 4 EiB).
    private const long LargestProbedLength = 1L << 62;

    private readonly SafeFileHandle _handle;
    private readonly bool _ownsHandle;

    private FileBlockSource(SafeFileHandle handle, long length, int? logicalSectorSize, bool ownsHandle)
    {
        _handle = handle;
        _ownsHandle = ownsHandle;
        Length = length;
        LogicalSectorSize = logicalSectorSize;
    }

    /// <summary>Opens <paramref name="path"/> read-only and measures it. The open blocks if the
    /// path is a FIFO: for a path someone else controls, open it non-blocking and check it first,
    /// then use <see cref="Open(SafeFileHandle, bool)"/>.</summary>
    public static FileBlockSource Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        try
        {
            return Open(handle, ownsHandle: true);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Reads through a handle the caller opened (e.g. with O_NONBLOCK and checked with
    /// fstat to be a block device or regular file); the caller keeps owning it unless
    /// <paramref name="ownsHandle"/>. A block device is measured by probing for its last
    /// readable byte, since fstat reports 0 there; its logical sector size comes from sysfs.</summary>
    public static FileBlockSource Open(SafeFileHandle handle, bool ownsHandle = false)
    {
        ArgumentNullException.ThrowIfNull(handle);
        var status = PosixFile.GetStatus(handle);
        int? sectorSize = status.Type == PosixFileType.BlockDevice ? BlockDeviceSectorSize.Of(status.RawDevice) : null;
        return new FileBlockSource(handle, MeasureLength(handle), sectorSize, ownsHandle);
    }

    public long Length { get; }

    /// <summary>For a block device, what the kernel reports; null for an image file.</summary>
    public int? LogicalSectorSize { get; }

    public int Read(long offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (offset >= Length)
        {
            return 0;
        }

        var wanted = (int)Math.Min(destination.Length, Length - offset);
        var total = 0;
        // pread may return less than asked (signals, device quirks): keep going until the end.
        while (total < wanted)
        {
            var read = RandomAccess.Read(_handle, destination[total..wanted], offset + total);
            if (read <= 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    public void Dispose()
    {
        if (_ownsHandle)
        {
            _handle.Dispose();
        }
    }

    private static long MeasureLength(SafeFileHandle handle)
    {
        var length = RandomAccess.GetLength(handle);
        return length > 0 ? length : ProbeLength(handle);
    }

    // pread past the end of a block device returns 0 bytes: find the end by doubling, then
    // bisecting. About 2 * log2(size) one-byte reads, served from the page cache mostly.
    private static long ProbeLength(SafeFileHandle handle)
    {
        Span<byte> probe = stackalloc byte[1];
        try
        {
            if (!CanRead(handle, 0, probe))
            {
                return 0;
            }

            long readable = 0;
            long unreadable = 4096;
            while (CanRead(handle, unreadable, probe))
            {
                readable = unreadable;
                if (unreadable >= LargestProbedLength)
                {
                    throw new IOException("the device reports no end");
                }

                unreadable *= 2;
            }

            while (unreadable - readable > 1)
            {
                var middle = readable + ((unreadable - readable) / 2);
                if (CanRead(handle, middle, probe))
                {
                    readable = middle;
                }
                else
                {
                    unreadable = middle;
                }
            }

            return readable + 1;
        }
        finally
        {
            // The probed byte may belong to a key file.
            probe.Clear();
        }
    }

    private static bool CanRead(SafeFileHandle handle, long offset, Span<byte> probe) => RandomAccess.Read(handle, probe, offset) > 0;
}
