using System.Globalization;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Bench;

/// <summary>
/// What QEMU's own LUKS driver achieves here, per cipher, next to the same qemu-io workload on a
/// raw image: a write pass over the whole image in large requests, then a read pass, each a
/// separate qemu-io process timed from outside, minus the time of a run that opens the image
/// and does no I/O (start-up, key derivation, close). A pass shorter than a second runs up to
/// three times and the fastest run counts; one shorter than 200 ms is repeated within each run
/// (the first write pass tells how often).
/// </summary>
/// <remarks>
/// Images live in a private 0700 directory and are removed after their measurement. The key
/// is a random throwaway that protects nothing, yet it still goes to qemu-io only through its
/// standard input. Flushes are ignored (<c>cache.no-flush=on</c>), so the figures are the cost of
/// the encryption layer above the page cache, not the disk's speed; both images pay the same
/// file-system cost.
/// </remarks>
public sealed class QemuLuksThroughput
{
    /// <summary>Default MiB per pass: large enough to dwarf process start-up, small enough
    /// that the whole bench stays well under a minute on a small host.</summary>
    public const int DefaultPassMiB = 128;

    private const int MaxRequestMiB = 16;

    // The fastest of several runs counts: on a shared host, other work only ever adds time.
    private const int BaselineRuns = 3;
    private const int PassRepetitions = 3;
    private static readonly TimeSpan LongEnoughRun = TimeSpan.FromSeconds(1);

    // Net of start-up, a timed run should last this long (jitter is a few milliseconds), up to
    // this many passes over the image in one run.
    private static readonly TimeSpan MinimumTimedRun = TimeSpan.FromMilliseconds(200);
    private const int MaxLoops = 64;

    private const byte WritePattern = 0x5a;

    private readonly int _passMiB;
    private readonly IReadOnlyList<BenchCipher> _ciphers;
    private readonly IProgress<string>? _progress;

    public QemuLuksThroughput(int passMiB, IReadOnlyList<BenchCipher> ciphers, IProgress<string>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(passMiB);
        ArgumentNullException.ThrowIfNull(ciphers);
        _passMiB = passMiB;
        _ciphers = ciphers;
        _progress = progress;
    }

    private long PassBytes => (long)_passMiB << 20;

    private int RequestMiB => Math.Min(_passMiB, MaxRequestMiB);

    /// <summary>Runs the measurement in a new private directory under TMPDIR (default /tmp)
    /// and removes it again. A missing qemu-io or an unusable directory is reported in
    /// <see cref="NativeBenchResult.Error"/>, not thrown.</summary>
    public async Task<NativeBenchResult> MeasureAsync(CancellationToken cancellationToken)
    {
        DirectoryInfo directory;
        try
        {
            // mkdtemp: a fresh name, created 0700.
            directory = Directory.CreateTempSubdirectory("luksvirt-bench-");
        }
        catch (IOException error)
        {
            return Failed($"cannot create a directory for the benchmark images under {Path.GetTempPath()}: {error.Message}");
        }

        try
        {
            return await MeasureInAsync(directory.FullName, cancellationToken).ConfigureAwait(false);
        }
        catch (QemuToolMissingException error)
        {
            return Failed(error.Message);
        }
        catch (IOException error)
        {
            return Failed($"benchmark images in {directory.FullName}: {error.Message}");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private NativeBenchResult Failed(string error) => new(_passMiB, RequestMiB, null, [], error);

    private async Task<NativeBenchResult> MeasureInAsync(string directory, CancellationToken cancellationToken)
    {
        // Raw before and after the ciphers, the better figure counts: on a shared host, load
        // that comes and goes during the bench then slows the baseline no more than the ciphers.
        _progress?.Report($"qemu-io on a raw image ({_passMiB} MiB per pass)");
        var before = await MeasureRawAsync(directory, cancellationToken).ConfigureAwait(false);
        if (before.Error is not null)
        {
            return Failed($"qemu-io on a raw image: {before.Error}");
        }

        using var key = SecretBuffer.GeneratePrintableKey();
        var measured = new List<NativeCipherResult>();
        foreach (var cipher in _ciphers)
        {
            _progress?.Report($"qemu-io through QEMU's LUKS driver: {cipher.Label}");
            measured.Add(await MeasureCipherAsync(directory, cipher, key, cancellationToken).ConfigureAwait(false));
        }

        _progress?.Report("qemu-io on a raw image again");
        var after = await MeasureRawAsync(directory, cancellationToken).ConfigureAwait(false);
        var raw = new PassThroughput(
            Best(before.Throughput.WriteMBps, after.Throughput.WriteMBps),
            Best(before.Throughput.ReadMBps, after.Throughput.ReadMBps));
        var results = measured
            .Select(c => c with { WriteRatioToRaw = Ratio(c.WriteMBps, raw.WriteMBps), ReadRatioToRaw = Ratio(c.ReadMBps, raw.ReadMBps) })
            .ToList();
        return new NativeBenchResult(_passMiB, RequestMiB, raw, results, null);
    }

    private async Task<ImageMeasurement> MeasureRawAsync(string directory, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, "raw.img");
        try
        {
            using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
            {
                file.SetLength(PassBytes);
            }

            return await MeasureImageAsync(path, null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>One cipher's figures; the ratios to raw are filled in once raw is final.</summary>
    private async Task<NativeCipherResult> MeasureCipherAsync(string directory, BenchCipher cipher, SecretBuffer key, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"{cipher.Cipher}-{cipher.BlockMode}-{cipher.KeyBits}.luks"));
        try
        {
            LuksImageCreator creator;
            try
            {
                creator = await ThrowawayLuksImage.CreateAsync(path, cipher, PassBytes, key, cancellationToken).ConfigureAwait(false);
            }
            catch (ThrowawayImageException error)
            {
                return new NativeCipherResult(cipher.Name, cipher.KeyBits, false, null, null, null, null, null, error.Message);
            }

            var luks = await MeasureImageAsync(path, key, cancellationToken).ConfigureAwait(false);
            if (!luks.Opened)
            {
                return new NativeCipherResult(cipher.Name, cipher.KeyBits, false, creator, null, null, null, null, $"QEMU cannot open it: {luks.Error}");
            }

            return new NativeCipherResult(cipher.Name, cipher.KeyBits, true, creator, luks.Throughput.WriteMBps, luks.Throughput.ReadMBps, null, null, luks.Error);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private async Task<ImageMeasurement> MeasureImageAsync(string path, SecretBuffer? key, CancellationToken cancellationToken)
    {
        var baseline = TimeSpan.MaxValue;
        for (var i = 0; i < BaselineRuns; i++)
        {
            var idle = await RunQemuIoAsync(path, key, NoIoCommands(), cancellationToken).ConfigureAwait(false);
            if (!idle.Succeeded)
            {
                return new ImageMeasurement(false, new PassThroughput(null, null), QemuIoFailure(idle));
            }

            baseline = Min(baseline, idle.Elapsed);
        }

        // A pass too short to time against start-up jitter (a small --size, a fast raw image)
        // is repeated within each qemu-io run; the first write pass tells how often.
        var probe = await RunQemuIoAsync(path, key, WriteCommands(1), cancellationToken).ConfigureAwait(false);
        if (!probe.Succeeded)
        {
            return new ImageMeasurement(true, new PassThroughput(null, null), $"write pass failed: {QemuIoFailure(probe)}");
        }

        var probeNet = Max(probe.Elapsed - baseline, TimeSpan.FromMilliseconds(1));
        var loops = probeNet >= MinimumTimedRun ? 1 : (int)Math.Min(MaxLoops, Math.Ceiling(MinimumTimedRun / probeNet));

        // Covering the image once, the probe is a timed write pass like any other.
        var passes = await TimePassesAsync(path, key, loops, loops == 1 ? probe.Elapsed : null, cancellationToken).ConfigureAwait(false);
        return passes.Error is not null
            ? new ImageMeasurement(true, new PassThroughput(null, null), passes.Error)
            : new ImageMeasurement(true, new PassThroughput(Rate(passes.Write - baseline, loops), Rate(passes.Read - baseline, loops)), null);
    }

    /// <summary>The fastest write and read run of up to <see cref="PassRepetitions"/>, each
    /// covering the image <paramref name="loops"/> times; <paramref name="firstWrite"/> is a
    /// write run already timed.</summary>
    private async Task<(TimeSpan Write, TimeSpan Read, string? Error)> TimePassesAsync(string path, SecretBuffer? key, int loops, TimeSpan? firstWrite, CancellationToken cancellationToken)
    {
        var write = firstWrite ?? TimeSpan.MaxValue;
        var read = TimeSpan.MaxValue;
        // A run this long already dwarfs start-up jitter; repeating it would only cost time.
        for (var i = 0; i < PassRepetitions && (i == 0 || Min(write, read) < LongEnoughRun); i++)
        {
            if (i > 0 || firstWrite is null)
            {
                var writeRun = await RunQemuIoAsync(path, key, WriteCommands(loops), cancellationToken).ConfigureAwait(false);
                if (!writeRun.Succeeded)
                {
                    return (write, read, $"write pass failed: {QemuIoFailure(writeRun)}");
                }

                write = Min(write, writeRun.Elapsed);
            }

            var readRun = await RunQemuIoAsync(path, key, PassCommands("read", loops), cancellationToken).ConfigureAwait(false);
            if (!readRun.Succeeded)
            {
                return (write, read, $"read pass failed: {QemuIoFailure(readRun)}");
            }

            read = Min(read, readRun.Elapsed);
        }

        return (write, read, null);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static Task<QemuToolRun> RunQemuIoAsync(string path, SecretBuffer? key, IEnumerable<string> commands, CancellationToken cancellationToken)
    {
        var arguments = new List<string>();
        if (key is not null)
        {
            arguments.AddRange(["--object", QemuToolProcess.SecretObjectArgument]);
        }

        arguments.AddRange(["--image-opts", ImageOptions(path, key is not null)]);
        foreach (var command in commands)
        {
            arguments.AddRange(["-c", command]);
        }

        return QemuToolProcess.RunAsync("qemu-io", arguments, key, cancellationToken);
    }

    /// <summary>The <c>--image-opts</c> of a raw or LUKS image file. Commas in the path are
    /// doubled, QEMU's escape in option strings.</summary>
    internal static string ImageOptions(string path, bool luks)
    {
        var driver = luks ? $"driver=luks,key-secret={QemuToolProcess.SecretId}" : "driver=raw";
        return $"{driver},cache.no-flush=on,file.driver=file,file.filename={path.Replace(",", ",,", StringComparison.Ordinal)}";
    }

    // "length" opens the image, prints its size and closes it: start-up cost without I/O.
    private static string[] NoIoCommands() => ["length"];

    private IEnumerable<string> WriteCommands(int loops) => PassCommands("write -P 0x" + WritePattern.ToString("x2", CultureInfo.InvariantCulture), loops);

    private IEnumerable<string> PassCommands(string verb, int loops)
    {
        var requestBytes = (long)RequestMiB << 20;
        for (var loop = 0; loop < loops; loop++)
        {
            for (long offset = 0; offset < PassBytes; offset += requestBytes)
            {
                yield return string.Create(CultureInfo.InvariantCulture, $"{verb} {offset} {Math.Min(requestBytes, PassBytes - offset)}");
            }
        }
    }

    private double? Rate(TimeSpan elapsed, int loops) =>
        elapsed > TimeSpan.Zero ? Math.Round(loops * PassBytes / elapsed.TotalSeconds / 1e6, 1) : null;

    private static double? Best(double? a, double? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);

    private static double? Ratio(double? value, double? baseline) =>
        value is { } v && baseline is { } b && b > 0 ? Math.Round(v / b, 2) : null;

    private static string QemuIoFailure(QemuToolRun run) =>
        $"qemu-io exited {run.ExitCode}: {(run.StandardError.Length == 0 ? "(no message)" : run.StandardError)}";

    private sealed record ImageMeasurement(bool Opened, PassThroughput Throughput, string? Error);
}
