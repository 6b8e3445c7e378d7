using LuksVirt.Core.Bench;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Bench;

/// <summary>The dmcrypt backend's kernel cipher figures. The cryptsetup CLI is the witness of
/// whether this kernel offers its crypto API to user space: `cryptsetup benchmark` goes through
/// the same crypt_benchmark call and fails exactly when AF_ALG is missing (as on the build
/// machine).</summary>
[Collection(SerialBenchMeasurements.Name)]
public sealed class KernelCipherBenchTests
{
    [Fact]
    public void Reports_the_missing_kernel_crypto_api_with_the_fix_or_else_real_figures()
    {
        var witness = ToolRunner.Run("cryptsetup", "benchmark", "--cipher", "aes-xts-plain64", "--key-size", "512");
        var cpu = CpuFlags.Read();

        var result = KernelCipherBench.Measure(BenchCipher.Candidates);
        var recommendation = CipherRecommendation.ForDmCrypt(result, cpu);

        Assert.Equal(witness.ExitCode == 0, result.KernelCryptoApiAvailable);
        Assert.Equal("dmcrypt", recommendation.Backend);
        if (!result.KernelCryptoApiAvailable)
        {
            Assert.Empty(result.Ciphers);
            Assert.StartsWith("cannot measure here: kernel crypto API not available", result.Message, StringComparison.Ordinal);
            Assert.Contains("modprobe algif_skcipher", result.Message, StringComparison.Ordinal);
            Assert.Null(recommendation.Cipher);
            Assert.Contains("kernel crypto API not available", recommendation.Reason, StringComparison.Ordinal);
            return;
        }

        Assert.Equal(BenchCipher.Candidates.Count, result.Ciphers.Count);
        var aes = Assert.Single(result.Ciphers, c => c.Cipher == "aes-xts-plain64" && c.KeyBits == 512);
        Assert.True(aes.EncryptMBps > 0 && aes.DecryptMBps > 0);
        Assert.NotNull(recommendation.Cipher);
        Assert.Contains(result.Ciphers, c => c.Cipher == recommendation.Cipher && c.KeyBits == recommendation.KeyBits && c.EncryptMBps > 0);
    }

    [Fact]
    public void Says_whether_dm_crypt_itself_is_there_as_dmsetup_does()
    {
        var dmsetup = ToolRunner.Run("dmsetup", "targets");
        var witness = dmsetup.ExitCode == 0 && dmsetup.StandardOutput.Split('\n').Any(line => line.StartsWith("crypt ", StringComparison.Ordinal));

        var result = KernelCipherBench.Measure([new BenchCipher("aes", "xts-plain64", 512)]);

        Assert.Equal(witness, result.DeviceMapperCryptAvailable);
        if (!witness)
        {
            Assert.Contains("modprobe dm_crypt", result.Message, StringComparison.Ordinal);
        }
    }
}
