using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop.Libc;

/// <summary>
/// The size of a regular file or a block device in bytes. fstat (what .NET's Length uses)
/// reports 0 for a block device; lseek to the end reports its real size for both.
/// </summary>
public static class StorageLength
{
    public static long Of(SafeFileHandle file, string displayPath)
    {
        ArgumentNullException.ThrowIfNull(file);
        var length = Interop.Libc.Lseek(file, 0, Interop.Libc.SEEK_END);
        return length >= 0 ? length : throw Interop.Libc.CreateExceptionForLastErrno("lseek", displayPath);
    }

    public static long Of(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return Of(file, path);
    }
}
