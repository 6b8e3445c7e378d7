using System.Text.RegularExpressions;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Cryptsetup;

/// <summary>What depends on the kernel: device-mapper, the crypto user API, and the library file.
/// Each test asserts what an independent witness (dmsetup, the cryptsetup CLI) says about this
/// machine; the build machine has neither dm-crypt nor AF_ALG.</summary>
public sealed partial class CryptDeviceKernelTests
{
    [Fact]
    public void IsDeviceMapperAvailable_agrees_with_dmsetup()
    {
        Assert.Equal(DmsetupListsCryptTarget(), CryptDevice.IsDeviceMapperAvailable);
    }

    [Fact]
    public void Activate_creates_a_mapping_where_dm_crypt_exists_and_otherwise_names_the_fix()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (image, slot) = TestImages.Format(directory, LuksVersion.Luks1, key.Span, slot: 1);
        var mapping = $"luksvirt-test-{Guid.NewGuid():N}"[..30];
        using var device = CryptDevice.Load(image);

        if (DmsetupListsCryptTarget())
        {
            Assert.Equal(slot, device.Activate(mapping, key.Span));
            try
            {
                Assert.True(CryptDevice.IsMappingActive(mapping));
                Assert.True(File.Exists($"/dev/mapper/{mapping}"));
            }
            finally
            {
                CryptDevice.Deactivate(mapping);
            }

            Assert.False(CryptDevice.IsMappingActive(mapping));
            return;
        }

        var error = Assert.Throws<DeviceMapperUnavailableException>(() => device.Activate(mapping, key.Span));
        Assert.Equal("crypt_activate_by_passphrase", error.Function);
        Assert.Contains("device-mapper not available", error.Message, StringComparison.Ordinal);
        Assert.Contains("dm_crypt", error.Message, StringComparison.Ordinal);
        Assert.Contains("native backend", error.Message, StringComparison.Ordinal);
        Assert.False(TestImages.Contains(error.Message, key));
        Assert.False(CryptDevice.IsMappingActive(mapping));
        Assert.Throws<DeviceMapperUnavailableException>(() => CryptDevice.Deactivate(mapping));
    }

    [Fact]
    public void ActivateWithVolumeKey_creates_a_mapping_where_dm_crypt_exists_and_otherwise_names_the_fix()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks2, key.Span, slot: 1);
        var mapping = $"luksvirt-test-{Guid.NewGuid():N}"[..30];
        using var device = CryptDevice.Load(image);
        using var volumeKey = device.GetVolumeKey(key.Span, 1);

        if (DmsetupListsCryptTarget())
        {
            device.ActivateWithVolumeKey(mapping, volumeKey);
            try
            {
                Assert.True(CryptDevice.IsMappingActive(mapping));
            }
            finally
            {
                CryptDevice.Deactivate(mapping);
            }

            return;
        }

        var error = Assert.Throws<DeviceMapperUnavailableException>(() => device.ActivateWithVolumeKey(mapping, volumeKey));
        Assert.Equal("crypt_activate_by_volume_key", error.Function);
        Assert.Contains("dm_crypt", error.Message, StringComparison.Ordinal);
        Assert.False(TestImages.Contains(error.Message, volumeKey));
        Assert.False(CryptDevice.IsMappingActive(mapping));
    }

    [Fact]
    public void IsMappingActive_is_false_for_a_name_nobody_mapped()
    {
        Assert.False(CryptDevice.IsMappingActive($"luksvirt-none-{Guid.NewGuid():N}"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    public void Bad_mapping_names_are_refused_before_any_library_call(string name)
    {
        Assert.ThrowsAny<ArgumentException>(() => CryptDevice.IsMappingActive(name));
        Assert.ThrowsAny<ArgumentException>(() => CryptDevice.Deactivate(name));
    }

    [Fact]
    public void BenchmarkPbkdf_returns_a_positive_cost_for_pbkdf2_and_argon2id()
    {
        var pbkdf2 = CryptDevice.BenchmarkPbkdf(PbkdfSettings.Calibrated(PbkdfKind.Pbkdf2, 100), 64);
        var argon2 = CryptDevice.BenchmarkPbkdf(new PbkdfSettings(PbkdfKind.Argon2id, IterationTimeMs: 100, MemoryKiB: 8192, Parallelism: 1), 64);

        // PBKDF2 cannot go below its minimum of 1000 iterations; argon2 below 4 passes.
        Assert.True(pbkdf2 >= 1000, $"pbkdf2: {pbkdf2}");
        Assert.True(argon2 >= 4, $"argon2id: {argon2}");
    }

    [Fact]
    public void BenchmarkCipher_measures_where_the_cli_can_and_otherwise_says_the_kernel_crypto_api_is_missing()
    {
        var cli = ToolRunner.Run("cryptsetup", "benchmark", "--cipher", "aes-xts-plain64", "--key-size", "512");

        if (cli.ExitCode == 0)
        {
            var result = CryptDevice.BenchmarkCipher("aes", "xts-plain64", 64);
            Assert.True(result.EncryptMiBps > 0);
            Assert.True(result.DecryptMiBps > 0);
            return;
        }

        var error = Assert.Throws<KernelCryptoApiUnavailableException>(() => CryptDevice.BenchmarkCipher("aes", "xts-plain64", 64));
        Assert.Equal("crypt_benchmark", error.Function);
        Assert.Contains("kernel crypto API not available", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LibraryVersion_is_the_real_file_behind_the_soname()
    {
        var version = CryptDevice.LibraryVersion;

        Assert.Matches(LibraryFileName(), version);
        var soname = new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib" }
            .Select(dir => Path.Combine(dir, "libcryptsetup.so.12"))
            .First(File.Exists);
        Assert.Equal(Path.GetFileName(new FileInfo(soname).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? soname), version);
    }

    [GeneratedRegex(@"^libcryptsetup\.so\.12\.\d+\.\d+$")]
    private static partial Regex LibraryFileName();

    /// <summary>dmsetup asks the kernel itself (DM_LIST_VERSIONS); it fails where there is no
    /// device-mapper and lists "crypt" only where dm-crypt is loaded.</summary>
    private static bool DmsetupListsCryptTarget()
    {
        var result = ToolRunner.Run("dmsetup", "targets");
        return result.ExitCode == 0
            && result.StandardOutput.Split('\n').Any(line => line.StartsWith("crypt ", StringComparison.Ordinal));
    }
}
