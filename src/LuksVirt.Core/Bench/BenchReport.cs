namespace LuksVirt.Core.Bench;

/// <summary>Everything <c>luksvirt bench</c> found; also its <c>--json</c> document.</summary>
public sealed record BenchReport(
    BenchHost Host,
    NativeBenchResult? Native,
    KernelBenchResult? DmCrypt,
    IReadOnlyList<PbkdfResult> Pbkdf,
    IReadOnlyList<Recommendation> Recommendations)
{
    /// <summary>True when something that should have been measured here could not be: QEMU
    /// measured no cipher, or a PBKDF failed. A kernel without its crypto API, or a single cipher
    /// QEMU cannot open, is a finding, not a failure.</summary>
    public bool HasFailures =>
        (Native is not null && (Native.Error is not null || !Native.Ciphers.Any(c => c.WriteMBps > 0 && c.ReadMBps > 0)))
        || Pbkdf.Any(p => p.Error is not null);
}

public sealed record BenchHost(string? CpuModel, int LogicalCpus, bool AesInstructions, string CryptsetupLibrary);

/// <summary>Throughput of one write pass and one read pass, in MB/s (10^6 bytes), start-up of the
/// tool subtracted. Null when the pass was too short to time against the start-up cost.</summary>
public sealed record PassThroughput(double? WriteMBps, double? ReadMBps);

/// <summary>The <c>native</c> backend: QEMU's LUKS driver, driven by qemu-io.</summary>
public sealed record NativeBenchResult(
    int PassMiB,
    int RequestMiB,
    PassThroughput? Raw,
    IReadOnlyList<NativeCipherResult> Ciphers,
    string? Error);

/// <summary>One cipher through QEMU's LUKS driver. <see cref="Opened"/> is false when QEMU could
/// not open (or nobody could create) an image with it; <see cref="Error"/> says which and why.</summary>
public sealed record NativeCipherResult(
    string Cipher,
    int KeyBits,
    bool Opened,
    LuksImageCreator? CreatedWith,
    double? WriteMBps,
    double? ReadMBps,
    double? WriteRatioToRaw,
    double? ReadRatioToRaw,
    string? Error);

/// <summary>The <c>dmcrypt</c> backend: the kernel's ciphers through libcryptsetup's benchmark
/// (memory only, no storage I/O). <see cref="Message"/> explains a missing kernel interface
/// and how to add it.</summary>
public sealed record KernelBenchResult(
    bool KernelCryptoApiAvailable,
    bool DeviceMapperCryptAvailable,
    IReadOnlyList<KernelCipherResult> Ciphers,
    string? Message);

public sealed record KernelCipherResult(string Cipher, int KeyBits, double? EncryptMBps, double? DecryptMBps, string? Error);

/// <summary>Key-derivation speed: the cost reached in <see cref="TimeMs"/>: PBKDF2 iterations,
/// or the argon2 time cost at <see cref="MemoryKiB"/> and <see cref="Parallelism"/>.</summary>
public sealed record PbkdfResult(
    string Name,
    int VolumeKeyBits,
    uint TimeMs,
    uint? Iterations,
    uint? MemoryKiB,
    uint? Parallelism,
    string? Error);

/// <summary>The cipher to use with one backend here, why, and what it costs in I/O. A null
/// <see cref="Cipher"/> means nothing could be measured; <see cref="Reason"/> says why.</summary>
public sealed record Recommendation(
    string Backend,
    string? Cipher,
    int? KeyBits,
    string Reason,
    string IoCost);
