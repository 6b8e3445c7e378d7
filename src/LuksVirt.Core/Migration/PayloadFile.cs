using LuksVirt.Interop.Libc;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.Migration;

/// <summary>
/// The container file during a migration: aligned chunks go through an O_DIRECT descriptor
/// (no dirty page cache to flush at the end, and a read-back that comes from the disk), anything
/// unaligned (a short last chunk) and file systems without direct I/O through a buffered one.
/// </summary>
internal sealed class PayloadFile : IDisposable
{
    private readonly FileStream _buffered;
    private readonly SafeFileHandle? _direct;

    public PayloadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _buffered = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        _direct = UnbufferedFile.TryOpen(path, writable: true);
    }

    /// <summary>False on file systems without O_DIRECT (tmpfs): everything is buffered then.</summary>
    public bool IsDirect => _direct is not null;

    public void Write(ReadOnlySpan<byte> data, long offset) => RandomAccess.Write(Pick(data.Length, offset), data, offset);

    public void ReadExactly(Span<byte> data, long offset) => PayloadPipeline.ReadExactly(Pick(data.Length, offset), data, offset);

    /// <summary>fsync: the data (written directly or not) and the file's metadata reach the disk.</summary>
    public void Flush() => _buffered.Flush(flushToDisk: true);

    public void Dispose()
    {
        _direct?.Dispose();
        _buffered.Dispose();
    }

    // Buffers are aligned by construction (UnbufferedFile.AllocateAligned); offsets and lengths decide.
    private SafeFileHandle Pick(int length, long offset) =>
        _direct is not null && length % UnbufferedFile.Alignment == 0 && offset % UnbufferedFile.Alignment == 0
            ? _direct
            : _buffered.SafeFileHandle;
}
