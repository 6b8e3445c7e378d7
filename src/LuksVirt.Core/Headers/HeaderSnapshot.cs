using System.Globalization;
using LuksVirt.Core.Containers;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Headers;

/// <summary>
/// The whole header area of a container (every byte before the encrypted data: LUKS header,
/// metadata copies, key slot areas) copied into locked memory before a change, so a failed
/// change can be undone byte for byte. It lives only in memory and is zeroed on dispose: a copy
/// kept anywhere would bring removed keys back. The raw area is also a valid
/// <c>cryptsetup luksHeaderRestore</c> / <c>luksvirt header restore</c> file.
/// </summary>
internal sealed class HeaderSnapshot : IDisposable
{
    /// <summary>LUKS2 allows at most 128 MiB of key slot area; anything bigger is not a header.</summary>
    private const long MaxHeaderBytes = 256L << 20;

    private const string RescueDirectory = "/run/luksvirt/rescue";
    private const UnixFileMode RescueDirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private readonly SecretBuffer _bytes;

    private HeaderSnapshot(string containerPath, SecretBuffer bytes)
    {
        ContainerPath = containerPath;
        _bytes = bytes;
    }

    public string ContainerPath { get; }

    public int Length => _bytes.Length;

    /// <summary>Reads the first <paramref name="headerBytes"/> bytes of the container.</summary>
    public static HeaderSnapshot Take(string containerPath, long headerBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerPath);
        if (headerBytes <= 0 || headerBytes > MaxHeaderBytes)
        {
            throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"{containerPath}: the header area is {headerBytes} bytes, which LuksVirt cannot keep a rollback copy of (a detached header or an unusual layout); change its slots with cryptsetup instead"));
        }

        var bytes = SecretBuffer.Allocate((int)headerBytes);
        try
        {
            using var file = File.OpenHandle(containerPath, FileMode.Open, FileAccess.Read);
            ReadExactly(file, bytes.WritableSpan, containerPath);
            return new HeaderSnapshot(containerPath, bytes);
        }
        catch
        {
            bytes.Dispose();
            throw;
        }
    }

    /// <summary>True when the container's header area still equals this copy, byte for byte.</summary>
    public bool MatchesContainer()
    {
        using var current = SecretBuffer.Allocate(_bytes.Length);
        using var file = File.OpenHandle(ContainerPath, FileMode.Open, FileAccess.Read);
        ReadExactly(file, current.WritableSpan, ContainerPath);
        return current.Span.SequenceEqual(_bytes.Span);
    }

    /// <summary>Writes the copy back over the header area, flushes it to the device, and reads it
    /// back: throws <see cref="IOException"/> unless the container now holds exactly the copy.
    /// Callers close every libcryptsetup context on the container first and load a new one after.</summary>
    public void RestoreToContainer()
    {
        using (var file = File.OpenHandle(ContainerPath, FileMode.Open, FileAccess.Write))
        {
            RandomAccess.Write(file, _bytes.Span, 0);
            RandomAccess.FlushToDisk(file);
        }

        if (!MatchesContainer())
        {
            throw new IOException($"{ContainerPath}: the header read back after the rollback differs from the copy taken before the change");
        }
    }

    /// <summary>
    /// Last resort when <see cref="RestoreToContainer"/> failed: saves the copy under
    /// /run/luksvirt/rescue (tmpfs, gone at reboot; directory 0700, file 0400), so an administrator
    /// can restore it with <c>luksvirt header restore</c> and then delete it. Returns the path, or
    /// null when even that failed.
    /// </summary>
    public string? SaveForRescue(string uuid)
    {
        try
        {
            var directory = Directory.CreateDirectory(RescueDirectory, RescueDirectoryMode);
            if (directory.LinkTarget is not null || PosixFile.GetLinkStatus(RescueDirectory).Type != PosixFileType.Directory)
            {
                return null;
            }

            File.SetUnixFileMode(RescueDirectory, RescueDirectoryMode);
            var path = Path.Combine(RescueDirectory, string.Create(CultureInfo.InvariantCulture, $"header-{uuid}-{DateTime.UtcNow:yyyyMMddTHHmmssfffZ}.img"));
            PosixFile.CreateExclusive(path, _bytes.Span, UnixFileMode.UserRead);
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Dispose() => _bytes.Dispose();

    private static void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle file, Span<byte> target, string path)
    {
        var total = 0;
        while (total < target.Length)
        {
            var read = RandomAccess.Read(file, target[total..], total);
            if (read == 0)
            {
                throw new IOException(string.Create(CultureInfo.InvariantCulture, $"{path}: ends after {total} bytes, inside its header area ({target.Length} bytes)"));
            }

            total += read;
        }
    }
}
