using LuksVirt.Core.Bench;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Tests.Bench;

[Collection(SerialBenchMeasurements.Name)]
public sealed class PbkdfBenchTests
{
    [Fact]
    public void Measures_pbkdf2_iterations_and_the_argon2id_cost_with_its_memory()
    {
        var results = PbkdfBench.Measure();

        var pbkdf2 = Assert.Single(results, r => r.Name == "pbkdf2-sha256");
        Assert.Null(pbkdf2.Error);
        // LUKS refuses fewer than 1000 iterations; any real CPU does far more in a second.
        Assert.True(pbkdf2.Iterations > 1000, $"pbkdf2: {pbkdf2.Iterations}");
        Assert.Null(pbkdf2.MemoryKiB);

        var argon2 = Assert.Single(results, r => r.Name == "argon2id");
        Assert.Null(argon2.Error);
        Assert.True(argon2.Iterations >= 4, $"argon2id time cost {argon2.Iterations}");
        Assert.InRange(argon2.MemoryKiB ?? 0, 32u, 1u << 20);
        Assert.InRange(argon2.Parallelism ?? 0, 1u, 4u);

        // A generated key's minimal PBKDF2 cost stays far below a second per unlock attempt.
        var minimal = PbkdfBench.Pbkdf2Milliseconds(results, PbkdfSettings.MinimalPbkdf2.Iterations!.Value);
        Assert.InRange(minimal ?? -1, 0.0001, 100);
    }
}
