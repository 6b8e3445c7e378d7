using LuksVirt.Core.Bench;

namespace LuksVirt.Tests.Bench;

/// <summary>QEMU's own LUKS driver measured through qemu-io on this machine.</summary>
[Collection(SerialBenchMeasurements.Name)]
public sealed class QemuLuksThroughputTests(NativeBenchFixture fixture) : IClassFixture<NativeBenchFixture>
{
    private readonly NativeBenchResult _result = fixture.Result;

    [Fact]
    public void The_raw_baseline_and_aes_xts_through_qemu_luks_have_positive_figures()
    {
        Assert.Null(_result.Error);
        Assert.Equal(NativeBenchFixture.PassMiB, _result.PassMiB);
        Assert.NotNull(_result.Raw);
        Assert.True(_result.Raw.WriteMBps > 0, $"raw write {_result.Raw.WriteMBps}");
        Assert.True(_result.Raw.ReadMBps > 0, $"raw read {_result.Raw.ReadMBps}");

        foreach (var keyBits in new[] { 256, 512 })
        {
            var aes = Assert.Single(_result.Ciphers, c => c.Cipher == "aes-xts-plain64" && c.KeyBits == keyBits);
            Assert.True(aes.Opened, aes.Error);
            Assert.Null(aes.Error);
            Assert.Equal(LuksImageCreator.Libcryptsetup, aes.CreatedWith);
            Assert.True(aes.WriteMBps > 0, $"aes-xts {keyBits} write {aes.WriteMBps}");
            Assert.True(aes.ReadMBps > 0, $"aes-xts {keyBits} read {aes.ReadMBps}");
            Assert.True(aes.WriteRatioToRaw > 0);
            Assert.True(aes.ReadRatioToRaw > 0);
        }
    }

    [Fact]
    public void Every_candidate_cipher_is_reported_either_measured_or_with_the_reason()
    {
        Assert.Equal(BenchCipher.Candidates.Select(c => (c.Name, c.KeyBits)), _result.Ciphers.Select(c => (c.Cipher, c.KeyBits)));
        foreach (var cipher in _result.Ciphers)
        {
            if (cipher.Opened)
            {
                Assert.True(cipher.WriteMBps > 0 && cipher.ReadMBps > 0, $"{cipher.Cipher}: {cipher.Error}");
            }
            else
            {
                Assert.False(string.IsNullOrWhiteSpace(cipher.Error), $"{cipher.Cipher} not opened without a reason");
                Assert.Null(cipher.WriteMBps);
            }
        }
    }

    [Fact]
    public void The_native_recommendation_is_a_measured_xts_cipher_qemu_opened()
    {
        var recommendation = CipherRecommendation.ForNative(_result, fixture.Cpu);

        Assert.Equal("native", recommendation.Backend);
        Assert.NotNull(recommendation.Cipher);
        var chosen = Assert.Single(_result.Ciphers, c => c.Cipher == recommendation.Cipher && c.KeyBits == recommendation.KeyBits);
        Assert.True(chosen.Opened);
        Assert.True(chosen.WriteMBps > 0 && chosen.ReadMBps > 0);
        Assert.Contains("-xts-", chosen.Cipher, StringComparison.Ordinal);
        Assert.Contains(fixture.Cpu.HasAesInstructions ? "has AES instructions" : "has no AES instructions", recommendation.Reason, StringComparison.Ordinal);
        Assert.Contains("raw image", recommendation.IoCost, StringComparison.Ordinal);
    }
}
