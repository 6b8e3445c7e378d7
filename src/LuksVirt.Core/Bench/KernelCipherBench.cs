using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.Bench;

/// <summary>
/// The <c>dmcrypt</c> backend's cipher speeds: what the kernel's crypto code achieves, measured
/// by libcryptsetup's benchmark (crypt_benchmark, the call behind <c>cryptsetup benchmark</c>)
/// through the kernel crypto user-space API, in memory, without storage I/O.
/// </summary>
internal static class KernelCipherBench
{
    /// <summary>What a host without AF_ALG is told, and the fix.</summary>
    public const string KernelCryptoApiMissing =
        "cannot measure here: kernel crypto API not available (no AF_ALG user-space interface); "
        + "fix: 'modprobe algif_skcipher' (kernel needs CONFIG_CRYPTO_USER_API_SKCIPHER)";

    public const string DeviceMapperCryptMissing =
        "dm-crypt not available in this kernel, so the dmcrypt backend cannot open disks here; "
        + "fix: 'modprobe dm_crypt' (kernel needs CONFIG_DM_CRYPT), or use the native backend";

    // libcryptsetup's own default (cryptsetup benchmark uses the same).
    private const int BufferBytes = 1 << 20;

    private const double BytesPerMiB = 1 << 20;

    public static KernelBenchResult Measure(IReadOnlyList<BenchCipher> ciphers)
    {
        ArgumentNullException.ThrowIfNull(ciphers);
        var deviceMapper = CryptDevice.IsDeviceMapperAvailable;
        var results = new List<KernelCipherResult>();
        foreach (var cipher in ciphers)
        {
            try
            {
                var speed = CryptDevice.BenchmarkCipher(cipher.Cipher, cipher.Mode, cipher.KeyBytes, BufferBytes);
                results.Add(new KernelCipherResult(cipher.Name, cipher.KeyBits, MegabytesPerSecond(speed.EncryptMiBps), MegabytesPerSecond(speed.DecryptMiBps), null));
            }
            catch (KernelCryptoApiUnavailableException)
            {
                // The interface is missing for every cipher alike: no point in trying the rest.
                return new KernelBenchResult(false, deviceMapper, [], Explain(KernelCryptoApiMissing, deviceMapper));
            }
            catch (CryptsetupException error)
            {
                // One cipher the kernel lacks (e.g. twofish not built): the others still count.
                results.Add(new KernelCipherResult(cipher.Name, cipher.KeyBits, null, null, error.Message));
            }
        }

        return new KernelBenchResult(true, deviceMapper, results, Explain(null, deviceMapper));
    }

    private static string? Explain(string? cryptoApi, bool deviceMapper) =>
        (cryptoApi, deviceMapper) switch
        {
            (null, true) => null,
            (null, false) => DeviceMapperCryptMissing,
            (_, true) => cryptoApi,
            (_, false) => $"{cryptoApi}; {DeviceMapperCryptMissing}",
        };

    // The report uses MB/s (10^6 bytes) throughout; libcryptsetup reports MiB/s.
    private static double MegabytesPerSecond(double mibPerSecond) => Math.Round(mibPerSecond * BytesPerMiB / 1e6, 1);
}
