using LuksVirt.Core.Bench;

namespace LuksVirt.Tests.Bench;

/// <summary>The choice rules on fixed figures: fastest XTS cipher QEMU opened, ties to the
/// larger key, CBC named but never chosen, nothing chosen from nothing.</summary>
public sealed class CipherRecommendationTests
{
    private static readonly CpuFlags s_aesCpu = CpuFlags.Parse(["flags\t: fpu aes"]);
    private static readonly CpuFlags s_plainCpu = CpuFlags.Parse(["flags\t: fpu"]);

    [Fact]
    public void Picks_the_fastest_xts_cipher_qemu_opened_and_states_the_io_cost()
    {
        var native = Native(
            Measured("aes-xts-plain64", 512, 400, 420),
            Measured("serpent-xts-plain64", 512, 60, 90),
            NotOpened("twofish-xts-plain64", 512));

        var recommendation = CipherRecommendation.ForNative(native, s_aesCpu);

        Assert.Equal(("aes-xts-plain64", 512), (recommendation.Cipher, recommendation.KeyBits));
        Assert.Contains("has AES instructions", recommendation.Reason, StringComparison.Ordinal);
        Assert.Contains("0.27x", recommendation.IoCost, StringComparison.Ordinal);
    }

    [Fact]
    public void A_near_tie_goes_to_the_larger_key_and_a_clear_win_to_the_faster_cipher()
    {
        var tie = CipherRecommendation.ForNative(Native(Measured("aes-xts-plain64", 256, 410, 430), Measured("aes-xts-plain64", 512, 400, 420)), s_aesCpu);
        var win = CipherRecommendation.ForNative(Native(Measured("aes-xts-plain64", 256, 500, 520), Measured("aes-xts-plain64", 512, 400, 420)), s_aesCpu);

        Assert.Equal(512, tie.KeyBits);
        Assert.Contains("within 5%", tie.Reason, StringComparison.Ordinal);
        Assert.Equal(256, win.KeyBits);
    }

    [Fact]
    public void A_faster_cbc_cipher_is_mentioned_but_not_recommended()
    {
        var recommendation = CipherRecommendation.ForNative(
            Native(Measured("aes-xts-plain64", 512, 400, 420), Measured("aes-cbc-essiv:sha256", 256, 450, 1000)), s_aesCpu);

        Assert.Equal("aes-xts-plain64", recommendation.Cipher);
        Assert.Contains("aes-cbc-essiv:sha256 256-bit measured faster", recommendation.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_aes_instructions_the_reason_says_so()
    {
        var recommendation = CipherRecommendation.ForNative(
            Native(Measured("aes-xts-plain64", 512, 50, 50), Measured("serpent-xts-plain64", 512, 90, 95)), s_plainCpu);

        Assert.Equal("serpent-xts-plain64", recommendation.Cipher);
        Assert.Contains("no AES instructions", recommendation.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Nothing_opened_means_no_cipher_and_the_reasons()
    {
        var recommendation = CipherRecommendation.ForNative(Native(NotOpened("aes-xts-plain64", 512)), s_aesCpu);

        Assert.Null(recommendation.Cipher);
        Assert.Contains("QEMU cannot open it: test", recommendation.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_dmcrypt_choice_comes_from_the_kernel_figures()
    {
        var kernel = new KernelBenchResult(true, true,
        [
            new KernelCipherResult("aes-xts-plain64", 512, 2000, 2100, null),
            new KernelCipherResult("twofish-xts-plain64", 512, 300, 310, null),
            new KernelCipherResult("serpent-xts-plain64", 512, null, null, "crypt_benchmark: not supported"),
        ], null);

        var recommendation = CipherRecommendation.ForDmCrypt(kernel, s_aesCpu);

        Assert.Equal(("dmcrypt", "aes-xts-plain64", 512), (recommendation.Backend, recommendation.Cipher, recommendation.KeyBits));
        Assert.Contains("not measured", recommendation.IoCost, StringComparison.Ordinal);
    }

    private static NativeBenchResult Native(params NativeCipherResult[] ciphers) =>
        new(16, 16, new PassThroughput(1500, 1550), ciphers, null);

    private static NativeCipherResult Measured(string cipher, int keyBits, double write, double read) =>
        new(cipher, keyBits, true, LuksImageCreator.Libcryptsetup, write, read, Math.Round(write / 1500, 2), Math.Round(read / 1550, 2), null);

    private static NativeCipherResult NotOpened(string cipher, int keyBits) =>
        new(cipher, keyBits, false, LuksImageCreator.QemuImg, null, null, null, null, "QEMU cannot open it: test");
}
