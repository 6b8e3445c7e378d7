using System.Globalization;
using LuksVirt.Secrets;

namespace LuksVirt.Core.Bench;

/// <summary>
/// What QEMU's own LUKS driver achieves here, per cipher, next to the same qemu-io workload on a
/// raw image: a write pass over the whole image in large requests, then a read pass, each a
/// separate qemu-io process timed from outside, minus the time of a run that opens the image
/// and does no I/O (start-up, key derivation, close). A pass shorter than a second runs up to
/// three times and the fastest run counts.
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

    public async Task<NativeBenchResult> MeasureAsync(CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("luksvirt-bench-");
        try
        {
            File.SetUnixFileMode(directory.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return await MeasureInAsync(directory.FullName, cancellationToken).ConfigureAwait(false);
        }
        catch (QemuToolMissingException error)
        {
            return new NativeBenchResult(_passMiB, RequestMiB, null, [], error.Message);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private async Task<NativeBenchResult> MeasureInAsync(string directory, CancellationToken cancellationToken)
    {
        _progress?.Report($"qemu-io on a raw image ({_passMiB} MiB per pass)");
        var rawPath = Path.Combine(directory, "raw.img");
        using (var file = new FileStream(rawPath, FileMode.CreateNew, FileAccess.Write))
        {
            file.SetLength(PassBytes);
        }

        var raw = await MeasureImageAsync(rawPath, null, cancellationToken).ConfigureAwait(false);
        File.Delete(rawPath);
        if (raw.Error is not null)
        {
            return new NativeBenchResult(_passMiB, RequestMiB, null, [], $"qemu-io on a raw image: {raw.Error}");
        }

        using var key = SecretBuffer.GeneratePrintableKey();
        var results = new List<NativeCipherResult>();
        foreach (var cipher in _ciphers)
        {
            _progress?.Report($"qemu-io through QEMU's LUKS driver: {cipher.Label}");
            results.Add(await MeasureCipherAsync(directory, cipher, key, raw.Throughput, cancellationToken).ConfigureAwait(false));
        }

        return new NativeBenchResult(_passMiB, RequestMiB, raw.Throughput, results, null);
    }

    private async Task<NativeCipherResult> MeasureCipherAsync(string directory, BenchCipher cipher, SecretBuffer key, PassThroughput raw, CancellationToken cancellationToken)
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

            var write = luks.Throughput.WriteMBps;
            var read = luks.Throughput.ReadMBps;
            return new NativeCipherResult(cipher.Name, cipher.KeyBits, true, creator, write, read,
                Ratio(write, raw.WriteMBps), Ratio(read, raw.ReadMBps), luks.Error);
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

        var write = TimeSpan.MaxValue;
        var read = TimeSpan.MaxValue;
        // A run this long already dwarfs start-up jitter; repeating it would only cost time.
        for (var i = 0; i < PassRepetitions && (i == 0 || Min(write, read) < LongEnoughRun); i++)
        {
            var writeRun = await RunQemuIoAsync(path, key, PassCommands("write -P 0x" + WritePattern.ToString("x2", CultureInfo.InvariantCulture)), cancellationToken).ConfigureAwait(false);
            if (!writeRun.Succeeded)
            {
                return new ImageMeasurement(true, new PassThroughput(null, null), $"write pass failed: {QemuIoFailure(writeRun)}");
            }

            var readRun = await RunQemuIoAsync(path, key, PassCommands("read"), cancellationToken).ConfigureAwait(false);
            if (!readRun.Succeeded)
            {
                return new ImageMeasurement(true, new PassThroughput(null, null), $"read pass failed: {QemuIoFailure(readRun)}");
            }

            write = Min(write, writeRun.Elapsed);
            read = Min(read, readRun.Elapsed);
        }

        return new ImageMeasurement(true, new PassThroughput(Rate(write - baseline), Rate(read - baseline)), null);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

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

    private IEnumerable<string> PassCommands(string verb)
    {
        var requestBytes = (long)RequestMiB << 20;
        for (long offset = 0; offset < PassBytes; offset += requestBytes)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"{verb} {offset} {Math.Min(requestBytes, PassBytes - offset)}");
        }
    }

    private double? Rate(TimeSpan elapsed) =>
        elapsed > TimeSpan.Zero ? Math.Round(PassBytes / elapsed.TotalSeconds / 1e6, 1) : null;

    private static double? Ratio(double? value, double? baseline) =>
        value is { } v && baseline is { } b && b > 0 ? Math.Round(v / b, 2) : null;

    private static string QemuIoFailure(QemuToolRun run) =>
        $"qemu-io exited {run.ExitCode}: {(run.StandardError.Length == 0 ? "(no message)" : run.StandardError)}";

    private sealed record ImageMeasurement(bool Opened, PassThroughput Throughput, string? Error);
}
