using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Cryptsetup
    {
        /// <summary>The device may be NULL. The IV generator part of the mode is ignored.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_benchmark", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int Benchmark(
            nint cd,
            string cipher,
            string cipherMode,
            nuint volumeKeySize,
            nuint ivSize,
            nuint bufferSize,
            out double encryptionMiBps,
            out double decryptionMiBps);

        /// <summary>Fills pbkdf->iterations (and may lower max_memory_kb) for pbkdf->time_ms.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_benchmark_pbkdf")]
        internal static unsafe partial int BenchmarkPbkdf(
            nint cd,
            CryptPbkdfType* pbkdf,
            byte* password,
            nuint passwordSize,
            byte* salt,
            nuint saltSize,
            nuint volumeKeySize,
            nint progress,
            nint userPointer);
    }
}
