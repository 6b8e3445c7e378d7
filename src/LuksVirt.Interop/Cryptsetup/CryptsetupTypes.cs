namespace LuksVirt.Interop.Cryptsetup;

public enum LuksVersion
{
    Luks1 = 1,
    Luks2 = 2,
}

public static class LuksVersionExtensions
{
    /// <summary>The name administrators read in cryptsetup's output: "LUKS1", "LUKS2".</summary>
    public static string Label(this LuksVersion version) => version switch
    {
        LuksVersion.Luks1 => "LUKS1",
        LuksVersion.Luks2 => "LUKS2",
        _ => version.ToString(),
    };
}

public enum PbkdfKind
{
    Pbkdf2,
    Argon2i,
    Argon2id,
}

/// <summary>
/// Key-derivation settings for a slot. <see cref="Iterations"/> set means a fixed cost with no
/// benchmark (CRYPT_PBKDF_NO_BENCHMARK); null means calibrate to <see cref="IterationTimeMs"/>.
/// </summary>
public sealed record PbkdfSettings(
    PbkdfKind Kind,
    string Hash = "sha256",
    uint? Iterations = null,
    uint IterationTimeMs = 2000,
    uint MemoryKiB = 0,
    uint Parallelism = 0)
{
    /// <summary>For generated full-entropy keys: PBKDF2 at the smallest cost LUKS accepts.</summary>
    public static PbkdfSettings MinimalPbkdf2 { get; } = new(PbkdfKind.Pbkdf2, Iterations: 1000);

    /// <summary>For passphrases a person chose: cryptsetup's own calibrated default.</summary>
    public static PbkdfSettings Calibrated(PbkdfKind kind, uint iterationTimeMs = 2000) => new(kind, IterationTimeMs: iterationTimeMs);
}

public sealed record LuksFormatOptions(
    LuksVersion Version,
    string Cipher = "aes",
    string CipherMode = "xts-plain64",
    int VolumeKeyBytes = 64,
    PbkdfSettings? Pbkdf = null,
    string Hash = "sha256")
{
    /// <summary>LUKS1: the payload starts at the first multiple of this many 512-byte sectors
    /// after the key material (plus the device's alignment offset); 0 leaves it to
    /// libcryptsetup (1 MiB, or the device's optimal I/O size).</summary>
    public ulong Luks1PayloadAlignmentSectors { get; init; }
}

public enum KeySlotState
{
    Invalid = 0,
    Inactive = 1,
    Active = 2,
    ActiveLast = 3,
    Unbound = 4,
}

public readonly record struct CipherBenchmarkResult(double EncryptMiBps, double DecryptMiBps);

/// <summary>What crypt_benchmark_pbkdf reached: iterations (PBKDF2) or time cost (argon2), and for
/// argon2 the memory and threads it settled on (it lowers the memory when even the minimum time
/// cost takes too long at the requested amount).</summary>
public readonly record struct PbkdfBenchmarkResult(uint Iterations, uint MemoryKiB, uint Parallelism);
