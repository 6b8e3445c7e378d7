using System.Globalization;

namespace LuksVirt.Core.Bench;

/// <summary>
/// Picks the cipher per backend from what was measured, restricted to what that backend can
/// open: for <c>native</c> the fastest cipher QEMU opened, for <c>dmcrypt</c> the fastest kernel
/// cipher. Speed is the harmonic mean of the two directions (the rate of writing some data and
/// reading it back). Only ciphers fit for new disks compete (XTS, see
/// <see cref="BenchCipher.IsRecommendedForNewDisks"/>); a faster CBC cipher is mentioned, not
/// chosen. Ciphers within <see cref="TieFraction"/> of the fastest are a tie that the larger key
/// wins, so run-to-run noise never talks anyone out of AES-256 for a few per cent.
/// </summary>
public static class CipherRecommendation
{
    public const string Native = "native";
    public const string DmCrypt = "dmcrypt";

    public const double TieFraction = 0.05;

    public static Recommendation ForNative(NativeBenchResult native, CpuFlags cpu)
    {
        ArgumentNullException.ThrowIfNull(native);
        ArgumentNullException.ThrowIfNull(cpu);
        var measured = native.Ciphers
            .Where(c => c.Opened && c.WriteMBps is > 0 && c.ReadMBps is > 0)
            .Select(c => new Candidate(c.Cipher, c.KeyBits, HarmonicMean(c.WriteMBps!.Value, c.ReadMBps!.Value), c))
            .ToList();
        if (measured.Count == 0)
        {
            var why = native.Error ?? "QEMU opened no benchmark image: " + string.Join("; ", native.Ciphers.Select(c => $"{c.Cipher} {c.KeyBits}-bit: {c.Error}"));
            return new Recommendation(Native, null, null, $"nothing measured: {why}", "not measured");
        }

        if (Pick(measured) is not var (chosen, tie, faster))
        {
            return new Recommendation(Native, null, null, "QEMU opened no cipher fit for new disks (XTS); measured: " + string.Join(", ", measured.Select(c => c.Label)), "not measured");
        }

        var result = (NativeCipherResult)chosen.Source;
        var reason = Invariant($"{chosen.Label} was the fastest XTS cipher QEMU's LUKS driver opened here (write {result.WriteMBps:0} MB/s, read {result.ReadMBps:0} MB/s){TieNote(tie)}; {CpuNote(cpu, chosen)}{FasterNote(faster)}");
        var ioCost = result.WriteRatioToRaw is { } writeRatio && result.ReadRatioToRaw is { } readRatio
            ? Invariant($"writes at {writeRatio:0.00}x and reads at {readRatio:0.00}x the speed of the same qemu-io workload on a raw image (raw: write {native.Raw?.WriteMBps:0} MB/s, read {native.Raw?.ReadMBps:0} MB/s)")
            : "the raw image was too fast to time at this size; run with a larger --size for the ratio";
        return new Recommendation(Native, chosen.Cipher, chosen.KeyBits, reason, ioCost);
    }

    public static Recommendation ForDmCrypt(KernelBenchResult kernel, CpuFlags cpu)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(cpu);
        if (!kernel.KernelCryptoApiAvailable)
        {
            return new Recommendation(DmCrypt, null, null, kernel.Message ?? KernelCipherBench.KernelCryptoApiMissing, "not measured: the kernel's ciphers cannot be reached from user space here");
        }

        var measured = kernel.Ciphers
            .Where(c => c.EncryptMBps is > 0 && c.DecryptMBps is > 0)
            .Select(c => new Candidate(c.Cipher, c.KeyBits, HarmonicMean(c.EncryptMBps!.Value, c.DecryptMBps!.Value), c))
            .ToList();
        if (measured.Count == 0)
        {
            return new Recommendation(DmCrypt, null, null, "the kernel measured none of the ciphers: " + string.Join("; ", kernel.Ciphers.Select(c => c.Error)), "not measured");
        }

        if (Pick(measured) is not var (chosen, tie, faster))
        {
            return new Recommendation(DmCrypt, null, null, "the kernel measured no cipher fit for new disks (XTS); measured: " + string.Join(", ", measured.Select(c => c.Label)), "not measured");
        }

        var result = (KernelCipherResult)chosen.Source;
        var deviceMapper = kernel.DeviceMapperCryptAvailable ? string.Empty : "; but " + KernelCipherBench.DeviceMapperCryptMissing;
        var reason = Invariant($"{chosen.Label} was the fastest XTS kernel cipher (encrypt {result.EncryptMBps:0} MB/s, decrypt {result.DecryptMBps:0} MB/s){TieNote(tie)}; {CpuNote(cpu, chosen)}{FasterNote(faster)}{deviceMapper}");
        var ioCost = Invariant($"the kernel encrypts at {result.EncryptMBps:0} MB/s and decrypts at {result.DecryptMBps:0} MB/s per stream in memory: the ceiling for I/O through a dm-crypt mapping (I/O through a mapping itself is not measured)");
        return new Recommendation(DmCrypt, chosen.Cipher, chosen.KeyBits, reason, ioCost);
    }

    /// <summary>The choice among XTS ciphers (null when none was measured), the faster XTS
    /// cipher it tied with, and a faster cipher that is not fit for new disks.</summary>
    private static (Candidate Chosen, Candidate? Tie, Candidate? Faster)? Pick(List<Candidate> measured)
    {
        var eligible = measured.Where(c => BenchCipher.IsRecommendedForNewDisks(c.Cipher)).ToList();
        if (eligible.Count == 0)
        {
            return null;
        }

        var fastest = eligible.MaxBy(c => c.Score)!;
        var chosen = eligible
            .Where(c => c.Score >= fastest.Score * (1 - TieFraction))
            .OrderByDescending(c => c.KeyBits)
            .ThenByDescending(c => c.Score)
            .First();
        var faster = measured.Where(c => !eligible.Contains(c) && c.Score > chosen.Score).MaxBy(c => c.Score);
        return (chosen, ReferenceEquals(chosen, fastest) ? null : fastest, faster);
    }

    private static string FasterNote(Candidate? faster) => faster is null
        ? string.Empty
        : Invariant($"; {faster.Label} measured faster, but only XTS is recommended for new disks (CBC lets whoever can write the disk flip chosen plaintext bits)");

    private static string TieNote(Candidate? fastest) => fastest is null
        ? string.Empty
        : Invariant($" ({fastest.Label} was within {TieFraction * 100:0}%, a tie the larger key wins)");

    private static string CpuNote(CpuFlags cpu, Candidate chosen)
    {
        var aes = chosen.Cipher.StartsWith("aes-", StringComparison.Ordinal);
        return (cpu.HasAesInstructions, aes) switch
        {
            (true, true) => "the CPU has AES instructions ('aes' in /proc/cpuinfo flags), so AES runs in hardware",
            (true, false) => "the CPU has AES instructions ('aes' in /proc/cpuinfo flags), yet AES was slower here",
            (false, true) => "the CPU has no AES instructions (no 'aes' in /proc/cpuinfo flags), yet software AES was still the fastest",
            (false, false) => "the CPU has no AES instructions (no 'aes' in /proc/cpuinfo flags), so AES runs in software and loses",
        };
    }

    private static double HarmonicMean(double a, double b) => 2 / ((1 / a) + (1 / b));

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed record Candidate(string Cipher, int KeyBits, double Score, object Source)
    {
        public string Label => Invariant($"{Cipher} {KeyBits}-bit");
    }
}
