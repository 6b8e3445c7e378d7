using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Secrets;

/// <summary>
/// What the kernel itself says about the pages that hold keys (/proc/self/smaps and VmLck of
/// /proc/self/status), while the keys are held: locked, left out of core dumps, each key on pages
/// of its own between guard pages, so that freeing one key can never unlock another (mlock is
/// per page, not counted). The tests run as root, where locking cannot fail for lack of
/// RLIMIT_MEMLOCK (CAP_IPC_LOCK); the unlocked fallback is tested through <c>luksvirt doctor</c>
/// in a process without that capability.
/// </summary>
public sealed class SecretBufferMemoryTests : IDisposable
{
    private static readonly ulong PageSize = (ulong)Environment.SystemPageSize;

    private readonly TempDirectory _dir = new("secretmem");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Keys_read_from_files_sit_on_locked_pages_that_core_dumps_leave_out()
    {
        // As an unlock reads them: one file per key, each through ReadFrom.
        var keys = new List<SecretBuffer>();
        try
        {
            foreach (var name in new[] { "alice", "bob", "carol" })
            {
                var path = _dir.PathOf($"luks-{name}.key");
                File.WriteAllBytes(path, System.Security.Cryptography.RandomNumberGenerator.GetBytes(64));
                using var file = PosixFile.OpenNoFollow(path, out _);
                keys.Add(SecretBuffer.ReadFrom(file));
            }

            foreach (var key in keys)
            {
                var mapping = ProcessMemoryMap.MappingOf(key.AddressForTests);
                Assert.True(key.IsMemoryLocked, mapping.ToString());
                Assert.True(mapping.IsLocked, $"the key's page is not locked: {mapping}");
                Assert.True(mapping.LockedKiloBytes > 0, $"no locked resident page under the key: {mapping}");
                Assert.True(mapping.IsExcludedFromCoreDumps, $"core dumps would include the key's page: {mapping}");
            }

            // Other tests may hold keys too; these three alone account for at least three pages.
            Assert.True(ProcessMemoryMap.LockedKiloBytes() >= 3 * (long)PageSize / 1024, $"VmLck: {ProcessMemoryMap.LockedKiloBytes()} kB");
        }
        finally
        {
            keys.ForEach(k => k.Dispose());
        }
    }

    [Fact]
    public void Disposing_one_buffer_leaves_every_other_buffer_locked()
    {
        using var first = SecretBuffer.CopyOf("first key"u8);
        var middle = SecretBuffer.CopyOf("middle key"u8);
        using var last = SecretBuffer.CopyOf("last key"u8);

        middle.Dispose();

        foreach (var survivor in new[] { first, last })
        {
            var mapping = ProcessMemoryMap.MappingOf(survivor.AddressForTests);
            Assert.True(mapping.IsLocked && mapping.LockedKiloBytes > 0, $"disposing another buffer unlocked this one's page: {mapping}");
        }
    }

    [Fact]
    public void Each_buffer_has_pages_of_its_own_between_guard_pages()
    {
        using var one = SecretBuffer.FromRandom(32);
        using var two = SecretBuffer.FromRandom(32);

        foreach (var buffer in new[] { one, two })
        {
            var (below, holder, above) = ProcessMemoryMap.NeighboursOf(buffer.AddressForTests);
            Assert.Equal(PageSize, holder.Length);
            Assert.True(IsGuardPage(below), $"no guard page below {holder}: {below}");
            Assert.True(IsGuardPage(above), $"no guard page above {holder}: {above}");
        }

        Assert.NotEqual(ProcessMemoryMap.MappingOf(one.AddressForTests).Start, ProcessMemoryMap.MappingOf(two.AddressForTests).Start);
    }

    [Fact]
    public void Where_the_kernel_offers_memfd_secret_keys_live_in_secret_memory_that_not_even_root_reads_through_proc_mem()
    {
        using var key = SecretBuffer.CopyOf("a key root cannot read"u8);
        var mapping = ProcessMemoryMap.MappingOf(key.AddressForTests);
        if (!KernelOffersSecretMemory())
        {
            Assert.Equal(SecretMemoryKind.LockedPages, key.MemoryKind);
            Assert.False(mapping.IsSecretMemory, mapping.ToString());
            return;
        }

        Assert.Equal(SecretMemoryKind.SecretMemory, key.MemoryKind);
        Assert.True(mapping.IsSecretMemory, mapping.ToString());
        using var memory = new FileStream("/proc/self/mem", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        memory.Position = key.AddressForTests;
        var copy = new byte[key.Length];
        // The kernel cannot reach pages it removed from its direct map: EIO.
        Assert.Throws<IOException>(() => memory.ReadExactly(copy));
        Assert.DoesNotContain(copy, b => b != 0);
    }

    [Fact]
    public void Without_secret_memory_keys_sit_on_mlocked_pages_of_their_own_between_guard_pages()
    {
        using var first = SecretPages.Allocate(64, trySecretMemory: false);
        using var second = SecretPages.Allocate(64, trySecretMemory: false);
        "the first key"u8.CopyTo(first.Span);
        "the second key"u8.CopyTo(second.Span);
        var third = SecretPages.Allocate(64, trySecretMemory: false);
        third.Dispose();

        foreach (var pages in new[] { first, second })
        {
            Assert.Equal(SecretMemoryKind.LockedPages, pages.Kind);
            var (below, holder, above) = ProcessMemoryMap.NeighboursOf(pages.AddressForTests);
            Assert.False(holder.IsSecretMemory);
            Assert.True(holder.IsLocked && holder.LockedKiloBytes > 0, holder.ToString());
            Assert.True(holder.IsExcludedFromCoreDumps, holder.ToString());
            Assert.Equal(PageSize, holder.Length);
            Assert.True(IsGuardPage(below) && below!.IsExcludedFromCoreDumps && !below.IsLocked, $"guard below {holder}: {below}");
            Assert.True(IsGuardPage(above) && above!.IsExcludedFromCoreDumps && !above.IsLocked, $"guard above {holder}: {above}");
        }
    }

    [Fact]
    public void ReadFrom_sizes_the_locked_pages_to_the_file_not_to_the_limit()
    {
        var path = _dir.PathOf("luks-large.key");
        var content = System.Security.Cryptography.RandomNumberGenerator.GetBytes(25_000);
        File.WriteAllBytes(path, content);
        using var file = PosixFile.OpenNoFollow(path, out _);

        using var key = SecretBuffer.ReadFrom(file);

        Assert.True(key.Span.SequenceEqual(content));
        var mapping = ProcessMemoryMap.MappingOf(key.AddressForTests);
        // The file's size plus the one byte that would show it grew, in whole pages.
        Assert.Equal((25_001 + PageSize - 1) / PageSize * PageSize, mapping.Length);
        Assert.True(mapping.IsLocked && mapping.IsExcludedFromCoreDumps, mapping.ToString());
    }

    [Fact]
    public void ReadFrom_refuses_a_file_that_holds_more_than_fstat_said()
    {
        // procfs files say they are empty, yet have content: exactly what a file that grew
        // between fstat and read looks like.
        using var file = PosixFile.OpenNoFollow("/proc/self/status", out _);

        var e = Assert.Throws<InvalidDataException>(() => SecretBuffer.ReadFrom(file));

        Assert.Contains("grew while it was read", e.Message, StringComparison.Ordinal);
    }

    private static bool KernelOffersSecretMemory()
    {
        var fd = LuksVirt.Interop.Interop.Libc.MemfdSecret();
        if (fd < 0)
        {
            return false;
        }

        _ = LuksVirt.Interop.Interop.Libc.CloseDescriptor(fd);
        return true;
    }

    /// <summary>One page that can be neither read, written nor executed ("---p", or "---s" where
    /// the guard is part of a secret-memory mapping).</summary>
    /// <summary>An inaccessible mapping of at least one page. The kernel merges neighbouring
    /// mappings with the same flags, so the guard above one key and the guard below the next,
    /// allocated back to back, can show as one region of two pages (or more).</summary>
    private static bool IsGuardPage(MemoryMapping? mapping) =>
        mapping is not null && mapping.Length >= PageSize && mapping.Length % PageSize == 0
        && mapping.Permissions.StartsWith("---", StringComparison.Ordinal);
}
