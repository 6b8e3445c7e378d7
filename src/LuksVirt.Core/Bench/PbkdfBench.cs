using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.Bench;

/// <summary>
/// Key-derivation speed through libcryptsetup (crypt_benchmark_pbkdf): PBKDF2-SHA256, the only
/// PBKDF of LUKS1 and so of the native backend, and argon2id, LUKS2's default (dmcrypt only).
/// </summary>
public static class PbkdfBench
{
    /// <summary>The cost reached in this time is reported: PBKDF2 iterations per second.</summary>
    public const uint TimeMs = 1000;

    /// <summary>A 512-bit volume key, as aes-xts-plain64 with AES-256 uses: PBKDF2-SHA256 must
    /// compute two output blocks for it, so it counts half the iterations of a 256-bit key.</summary>
    public const int VolumeKeyBytes = 64;

    // cryptsetup's LUKS2 defaults: up to 1 GiB and 4 threads. The benchmark lowers the memory
    // when even the minimum time cost takes longer than TimeMs, and reports what it settled on.
    private const uint Argon2MemoryKiB = 1 << 20;
    private const int Argon2MaxThreads = 4;

    public static IReadOnlyList<PbkdfResult> Measure() =>
    [
        Run("pbkdf2-sha256", new PbkdfSettings(PbkdfKind.Pbkdf2, "sha256", IterationTimeMs: TimeMs)),
        Run("argon2id", new PbkdfSettings(PbkdfKind.Argon2id, IterationTimeMs: TimeMs, MemoryKiB: Argon2MemoryKiB, Parallelism: (uint)Math.Min(Environment.ProcessorCount, Argon2MaxThreads))),
    ];

    /// <summary>Milliseconds one unlock costs at <paramref name="iterations"/> PBKDF2 iterations,
    /// given the measured rate; null when PBKDF2 was not measured.</summary>
    public static double? Pbkdf2Milliseconds(IReadOnlyList<PbkdfResult> results, uint iterations)
    {
        ArgumentNullException.ThrowIfNull(results);
        var pbkdf2 = results.FirstOrDefault(r => r.Name.StartsWith("pbkdf2", StringComparison.Ordinal));
        return pbkdf2?.Iterations is { } perTime and > 0 ? Math.Round((double)iterations / perTime * pbkdf2.TimeMs, 2) : null;
    }

    private static PbkdfResult Run(string name, PbkdfSettings settings)
    {
        try
        {
            var cost = CryptDevice.BenchmarkPbkdfCost(settings, VolumeKeyBytes);
            return settings.Kind == PbkdfKind.Pbkdf2
                ? new PbkdfResult(name, VolumeKeyBytes * 8, TimeMs, cost.Iterations, null, null, null)
                : new PbkdfResult(name, VolumeKeyBytes * 8, TimeMs, cost.Iterations, cost.MemoryKiB, cost.Parallelism, null);
        }
        catch (CryptsetupException error)
        {
            return new PbkdfResult(name, VolumeKeyBytes * 8, TimeMs, null, null, null, error.Message);
        }
    }
}
