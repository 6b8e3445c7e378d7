using System.Security.Cryptography;
using LuksVirt.Interop.Libc;

namespace LuksVirt.Interop.Secrets;

/// <summary>
/// The pages of one secret, mapped for it alone: [guard page][data pages][guard page]. No other
/// allocation shares a data page, so unlocking or unmapping one secret can never touch another
/// (mlock is per page, not counted); the PROT_NONE guard pages make a native overrun fault
/// instead of reaching a neighbour. The data pages come from memfd_secret where the kernel offers
/// it, else from an anonymous mapping locked with mlock; either way left out of core dumps.
/// Dispose zeroes the data and unmaps the whole region.
/// </summary>
/// <remarks>
/// No finalizer: spans over the data point into the mapping, and the GC cannot see that a span
/// outlives the last reference to its owner, so unmapping from a finalizer could pull memory from
/// under code still using it. A region that is never disposed stays mapped (locked, not dumped)
/// until the process ends.
/// </remarks>
internal sealed class SecretPages : IDisposable
{
    private static readonly nuint PageSize = (nuint)Environment.SystemPageSize;

    // Set once the kernel has said it has no memfd_secret (ENOSYS: too old, or secretmem.enable=0)
    // or forbids it (EPERM: a seccomp filter); it is not asked again.
    private static volatile bool s_secretMemoryRefused;

    private readonly nuint _mappingBytes;
    private readonly nint _data;
    private nint _mapping;

    private SecretPages(nint mapping, nuint mappingBytes, SecretMemoryKind kind)
    {
        _mapping = mapping;
        _mappingBytes = mappingBytes;
        _data = mapping + (nint)PageSize;
        Capacity = checked((int)(mappingBytes - 2 * PageSize));
        Kind = kind;
    }

    /// <summary>Usable bytes: the request rounded up to whole pages.</summary>
    public int Capacity { get; }

    public SecretMemoryKind Kind { get; }

    public bool IsDisposed => _mapping == 0;

    /// <summary>All <see cref="Capacity"/> bytes. Valid until <see cref="Dispose"/>.</summary>
    public unsafe Span<byte> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return new Span<byte>((void*)_data, Capacity);
        }
    }

    /// <summary>Zero-filled pages for at least <paramref name="bytes"/> bytes (one page for 0).
    /// Throws <see cref="IOException"/> when the kernel cannot map them at all (ENOMEM).</summary>
    /// <param name="trySecretMemory">False only in tests of the mlock path on a kernel that
    /// offers memfd_secret.</param>
    public static SecretPages Allocate(int bytes, bool trySecretMemory = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        // Any process that holds a key must not be dumpable; doing it here means no command can forget.
        ProcessHardening.DisableDumpingOnce();

        var dataBytes = ((nuint)Math.Max(bytes, 1) + PageSize - 1) / PageSize * PageSize;
        var mappingBytes = dataBytes + 2 * PageSize;
        var pages = (trySecretMemory ? TryMapSecretMemory(mappingBytes) : null) ?? MapAnonymous(mappingBytes);
        try
        {
            pages.ProtectGuardPages();
            return pages;
        }
        catch
        {
            pages.Dispose();
            throw;
        }
    }

    public void Dispose() => Release(copyWipedBytes: false);

    /// <summary>For tests: where the data pages start, to find them in /proc/self/smaps.</summary>
    internal nint AddressForTests => _data;

    /// <summary>For tests: disposes exactly as <see cref="Dispose"/> does, and returns a copy of
    /// the data pages taken after they were zeroed and before they were unmapped.</summary>
    internal byte[] DisposeAndCopyWipedBytes() => Release(copyWipedBytes: true) ?? throw new ObjectDisposedException(nameof(SecretPages));

    private byte[]? Release(bool copyWipedBytes)
    {
        var mapping = Interlocked.Exchange(ref _mapping, 0);
        if (mapping == 0)
        {
            return null;
        }

        Span<byte> data;
        unsafe
        {
            data = new Span<byte>((void*)_data, Capacity);
        }

        CryptographicOperations.ZeroMemory(data);
        var copy = copyWipedBytes ? data.ToArray() : null;
        // munmap also drops the lock; no other secret shares these pages, so nothing else loses it.
        _ = Interop.Libc.Munmap(mapping, _mappingBytes);
        return copy;
    }

    /// <summary>A shared mapping of a new secret-memory file, or null where the kernel offers none
    /// or will not lock more (EAGAIN: over RLIMIT_MEMLOCK without CAP_IPC_LOCK). The kernel locks
    /// these pages and leaves them out of core dumps by itself.</summary>
    private static SecretPages? TryMapSecretMemory(nuint mappingBytes)
    {
        if (s_secretMemoryRefused)
        {
            return null;
        }

        var fd = Interop.Libc.MemfdSecret();
        if (fd < 0)
        {
            if (Interop.Libc.LastErrno is Interop.Libc.Errno.ENOSYS or Interop.Libc.Errno.EPERM)
            {
                s_secretMemoryRefused = true;
            }

            return null;
        }

        try
        {
            if (Interop.Libc.Ftruncate(fd, (long)mappingBytes) != 0)
            {
                return null;
            }

            var mapping = Interop.Libc.Mmap(0, mappingBytes, Interop.Libc.Memory.PROT_READ | Interop.Libc.Memory.PROT_WRITE, Interop.Libc.Memory.MAP_SHARED, fd, 0);
            return mapping == Interop.Libc.Memory.MapFailed ? null : new SecretPages(mapping, mappingBytes, SecretMemoryKind.SecretMemory);
        }
        finally
        {
            // The mapping keeps the file alive; the descriptor is not needed any more.
            _ = Interop.Libc.CloseDescriptor(fd);
        }
    }

    /// <summary>Private anonymous pages, left out of core dumps and locked where the kernel allows.</summary>
    private static SecretPages MapAnonymous(nuint mappingBytes)
    {
        var mapping = Interop.Libc.Mmap(0, mappingBytes, Interop.Libc.Memory.PROT_READ | Interop.Libc.Memory.PROT_WRITE,
            Interop.Libc.Memory.MAP_PRIVATE | Interop.Libc.Memory.MAP_ANONYMOUS, -1, 0);
        if (mapping == Interop.Libc.Memory.MapFailed)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("mmap", null);
        }

        if (Interop.Libc.Madvise(mapping, mappingBytes, Interop.Libc.Memory.MADV_DONTDUMP) != 0)
        {
            var error = Interop.Libc.CreateExceptionForLastErrno("madvise(MADV_DONTDUMP)", null);
            _ = Interop.Libc.Munmap(mapping, mappingBytes);
            throw error;
        }

        var locked = Interop.Libc.Mlock(mapping + (nint)PageSize, mappingBytes - 2 * PageSize) == 0;
        return new SecretPages(mapping, mappingBytes, locked ? SecretMemoryKind.LockedPages : SecretMemoryKind.UnlockedPages);
    }

    private void ProtectGuardPages()
    {
        foreach (var guard in new[] { _mapping, _mapping + (nint)(_mappingBytes - PageSize) })
        {
            if (Interop.Libc.Mprotect(guard, PageSize, Interop.Libc.Memory.PROT_NONE) != 0)
            {
                throw Interop.Libc.CreateExceptionForLastErrno("mprotect(PROT_NONE)", null);
            }
        }
    }
}
