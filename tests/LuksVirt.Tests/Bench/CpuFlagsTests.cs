using LuksVirt.Core.Bench;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Bench;

public sealed class CpuFlagsTests
{
    [Fact]
    public void Agrees_with_grep_on_proc_cpuinfo_about_aes_instructions()
    {
        var grep = ToolRunner.Run("grep", "-qw", "aes", "/proc/cpuinfo");

        Assert.Equal(grep.ExitCode == 0, CpuFlags.Read().HasAesInstructions);
    }

    [Fact]
    public void Reads_the_first_cpu_block_of_x86_and_arm64_formats()
    {
        string[] x86 =
        [
            "processor\t: 0",
            "model name\t: Example CPU",
            "flags\t\t: fpu sse2 aes avx2",
            "",
            "processor\t: 1",
            "flags\t\t: fpu",
        ];
        string[] arm = ["processor\t: 0", "Features\t: fp asimd aes pmull sha2", "", "processor\t: 1"];
        string[] old = ["processor\t: 0", "model name\t: Old CPU", "flags\t\t: fpu sse2 pclmulqdq_no"];

        var intel = CpuFlags.Parse(x86);
        Assert.True(intel.HasAesInstructions);
        Assert.Equal("Example CPU", intel.ModelName);
        Assert.True(CpuFlags.Parse(arm).HasAesInstructions);
        Assert.False(CpuFlags.Parse(old).HasAesInstructions);
        Assert.False(CpuFlags.Parse([]).HasAesInstructions);
    }
}
