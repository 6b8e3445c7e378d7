using LuksVirt.Libc;

namespace LuksVirt.Tests.Libc;

public sealed class ProcessHardeningTests
{
    [Fact]
    public void DisableDumping_makes_the_process_not_dumpable()
    {
        // Flips the test process itself (harmless for tests running as root). Made dumpable
        // first through the raw call, so the assertion shows DisableDumping's own effect.
        Assert.Equal(0, Interop.Libc.Prctl(Interop.Libc.PR_SET_DUMPABLE, 1, 0, 0, 0));
        Assert.True(ProcessHardening.IsDumpable);

        ProcessHardening.DisableDumping();

        Assert.False(ProcessHardening.IsDumpable);
    }
}
