using LuksVirt.Core.Bench;

namespace LuksVirt.Tests.Bench;

/// <summary>One native measurement at 16 MiB per pass with every candidate cipher, shared by the
/// tests that read it: it runs qemu-io some fifty times, too slow to repeat per test.</summary>
public sealed class NativeBenchFixture
{
    public const int PassMiB = 16;

    public NativeBenchFixture()
    {
        Result = new QemuLuksThroughput(PassMiB, BenchCipher.Candidates).MeasureAsync(CancellationToken.None).GetAwaiter().GetResult();
        Cpu = CpuFlags.Read();
    }

    public NativeBenchResult Result { get; }

    public CpuFlags Cpu { get; }
}
