using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.Bench;

/// <summary>What <c>luksvirt bench</c> measures: one or both backends, PBKDF always.</summary>
public sealed record BenchOptions(bool Native, bool DmCrypt, int PassMiB = QemuLuksThroughput.DefaultPassMiB);

/// <summary>
/// The fastest cipher on this host per backend, with the evidence: runs the measurements one
/// after the other (in parallel they would slow each other down) and derives the
/// recommendations.
/// </summary>
public static class HostCipherBench
{
    public static async Task<BenchReport> RunAsync(BenchOptions options, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var cpu = CpuFlags.Read();
        var host = new BenchHost(cpu.ModelName, Environment.ProcessorCount, cpu.HasAesInstructions, CryptDevice.LibraryVersion);
        var recommendations = new List<Recommendation>();

        NativeBenchResult? native = null;
        if (options.Native)
        {
            native = await new QemuLuksThroughput(options.PassMiB, BenchCipher.Candidates, progress).MeasureAsync(cancellationToken).ConfigureAwait(false);
            recommendations.Add(CipherRecommendation.ForNative(native, cpu));
        }

        KernelBenchResult? kernel = null;
        if (options.DmCrypt)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report("kernel ciphers through libcryptsetup's benchmark");
            kernel = KernelCipherBench.Measure(BenchCipher.Candidates);
            recommendations.Add(CipherRecommendation.ForDmCrypt(kernel, cpu));
        }

        cancellationToken.ThrowIfCancellationRequested();
        progress?.Report("key derivation (PBKDF2, argon2id)");
        var pbkdf = PbkdfBench.Measure();
        return new BenchReport(host, native, kernel, pbkdf, recommendations);
    }
}
