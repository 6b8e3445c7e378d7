namespace LuksVirt.Interop.Cryptsetup;

/// <summary>
/// A <see cref="PbkdfSettings"/> as struct crypt_pbkdf_type, with its strings kept alive until
/// dispose. A fixed <see cref="PbkdfSettings.Iterations"/> becomes CRYPT_PBKDF_NO_BENCHMARK with
/// that count; argon2 memory and threads left at 0 take libcryptsetup's own defaults.
/// </summary>
internal unsafe ref struct NativePbkdf
{
    private readonly NativeUtf8String _type;
    private readonly NativeUtf8String _hash;

    private NativePbkdf(PbkdfSettings settings, bool benchmark)
    {
        var typeName = TypeName(settings.Kind);
        _type = new NativeUtf8String(typeName);
        _hash = new NativeUtf8String(settings.Hash);
        Value = new Interop.Cryptsetup.CryptPbkdfType
        {
            Type = _type.Pointer,
            Hash = _hash.Pointer,
            TimeMs = settings.IterationTimeMs,
        };

        if (settings.Kind != PbkdfKind.Pbkdf2)
        {
            // PBKDF2 must leave memory and threads at 0; argon2 needs both.
            var defaults = Interop.Cryptsetup.GetPbkdfTypeParams(typeName);
            Value.MaxMemoryKb = settings.MemoryKiB != 0 || defaults == null ? settings.MemoryKiB : defaults->MaxMemoryKb;
            Value.ParallelThreads = settings.Parallelism != 0 || defaults == null ? settings.Parallelism : defaults->ParallelThreads;
        }

        if (!benchmark && settings.Iterations is { } iterations)
        {
            Value.Iterations = iterations;
            Value.Flags = Interop.Cryptsetup.PbkdfNoBenchmark;
        }
    }

    /// <summary>The struct; pass its address while this instance is alive.</summary>
    public Interop.Cryptsetup.CryptPbkdfType Value;

    /// <summary>For crypt_set_pbkdf_type / crypt_format: fixed cost or calibrated.</summary>
    public static NativePbkdf ForKeySlots(PbkdfSettings settings) => new(settings, benchmark: false);

    /// <summary>For crypt_benchmark_pbkdf: always measured, <see cref="PbkdfSettings.Iterations"/> ignored.</summary>
    public static NativePbkdf ForBenchmark(PbkdfSettings settings) => new(settings, benchmark: true);

    public readonly void Dispose()
    {
        _type.Dispose();
        _hash.Dispose();
    }

    private static string TypeName(PbkdfKind kind) => kind switch
    {
        PbkdfKind.Pbkdf2 => "pbkdf2",
        PbkdfKind.Argon2i => "argon2i",
        PbkdfKind.Argon2id => "argon2id",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown PBKDF"),
    };
}
