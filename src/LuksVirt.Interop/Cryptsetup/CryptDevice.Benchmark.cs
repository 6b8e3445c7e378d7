namespace LuksVirt.Interop.Cryptsetup;

public sealed partial class CryptDevice
{
    // AES, Serpent and Twofish all have 16-byte blocks and IVs; ECB has none.
    private const int BlockCipherIvBytes = 16;

    // crypt_benchmark_pbkdf derives from a dummy password: only the time per iteration matters.
    private static readonly byte[] s_benchmarkPassword = "luksvirt-pbkdf-benchmark"u8.ToArray();
    private static readonly byte[] s_benchmarkSalt = new byte[32];

    /// <summary>crypt_benchmark: kernel crypto API cipher speed in MiB/s. Throws
    /// <see cref="KernelCryptoApiUnavailableException"/> ("kernel crypto API not available") where
    /// the kernel lacks the AF_ALG user-space interface (as on the build machine).</summary>
    /// <param name="cipher">e.g. "aes"</param>
    /// <param name="cipherMode">e.g. "xts-plain64"; the IV generator part is ignored.</param>
    public static CipherBenchmarkResult BenchmarkCipher(string cipher, string cipherMode, int volumeKeyBytes, int bufferBytes = 1 << 20)
    {
        ArgumentException.ThrowIfNullOrEmpty(cipher);
        ArgumentException.ThrowIfNullOrEmpty(cipherMode);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(volumeKeyBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bufferBytes);

        var ivBytes = cipherMode.StartsWith("ecb", StringComparison.Ordinal) ? 0 : BlockCipherIvBytes;
        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.Benchmark(0, cipher, cipherMode, (nuint)volumeKeyBytes, (nuint)ivBytes, (nuint)bufferBytes, out var encrypt, out var decrypt);
        return result >= 0
            ? new CipherBenchmarkResult(encrypt, decrypt)
            : throw CryptsetupErrors.Create("crypt_benchmark", result, $"{cipher}-{cipherMode} ({volumeKeyBytes * 8}-bit key)", CryptCall.CipherBenchmark);
    }

    /// <summary>crypt_benchmark_pbkdf: iterations (pbkdf2) or time cost (argon2) reached in
    /// <see cref="PbkdfSettings.IterationTimeMs"/>. <see cref="PbkdfSettings.Iterations"/> is ignored.</summary>
    internal static uint BenchmarkPbkdf(PbkdfSettings settings, int volumeKeyBytes) => BenchmarkPbkdfCost(settings, volumeKeyBytes).Iterations;

    /// <summary>Like <see cref="BenchmarkPbkdf"/>, with the argon2 memory and threads the
    /// benchmark settled on (0 for PBKDF2).</summary>
    public static unsafe PbkdfBenchmarkResult BenchmarkPbkdfCost(PbkdfSettings settings, int volumeKeyBytes)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(volumeKeyBytes);

        using var nativePbkdf = NativePbkdf.ForBenchmark(settings);
        var pbkdf = nativePbkdf.Value;
        int result;
        fixed (byte* password = s_benchmarkPassword)
        fixed (byte* salt = s_benchmarkSalt)
        {
            CryptsetupLog.BeginCall();
            result = Interop.Cryptsetup.BenchmarkPbkdf(0, &pbkdf, password, (nuint)s_benchmarkPassword.Length, salt, (nuint)s_benchmarkSalt.Length, (nuint)volumeKeyBytes, 0, 0);
        }

        return result >= 0
            ? new PbkdfBenchmarkResult(pbkdf.Iterations, pbkdf.MaxMemoryKb, pbkdf.ParallelThreads)
            : throw CryptsetupErrors.Create("crypt_benchmark_pbkdf", result, $"{settings.Kind} ({settings.Hash}, {settings.IterationTimeMs} ms)");
    }
}
