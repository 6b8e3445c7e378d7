using LuksVirt.Interop.Libc;

namespace LuksVirt.Tests.Libc;

public sealed class ProcessHardeningTests
{
    [Fact]
    public void DisableDumping_makes_the_process_not_dumpable_and_writes_no_core_file()
    {
        // The test process itself is flipped (harmless for tests running as root). The first key
        // allocation of a process disables dumping once; done here first, so a key allocated by
        // another test meanwhile cannot flip it back between the raw call and the assertions.
        ProcessHardening.DisableDumpingOnce();
        Assert.Equal(0, LuksVirt.Interop.Interop.Libc.Prctl(LuksVirt.Interop.Interop.Libc.PR_SET_DUMPABLE, 1, 0, 0, 0));
        Assert.True(ProcessHardening.IsDumpable);

        ProcessHardening.DisableDumping();

        Assert.False(ProcessHardening.IsDumpable);
        Assert.Equal(0UL, ProcessHardening.CoreFileLimit);
    }

    [Fact]
    public void Allocating_key_memory_disables_dumping()
    {
        using var key = LuksVirt.Interop.Secrets.SecretBuffer.FromRandom(32);

        Assert.False(ProcessHardening.IsDumpable);
        Assert.Equal(0UL, ProcessHardening.CoreFileLimit);
    }
}
