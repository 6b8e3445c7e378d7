using System.Text;

namespace LuksVirt.Tests.Migration;

/// <summary>
/// Collects, while it runs, the command line and environment of every process on the host
/// (/proc/*/cmdline and /proc/*/environ) over and over, so that a test can check afterwards
/// that a key never showed up there in any form. Tests poll here on purpose: they want to see
/// whatever existed at any moment, not react to an event.
/// </summary>
public sealed class ProcessSnapshots : IDisposable
{
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _collector;

    public ProcessSnapshots() => _collector = Task.Run(Collect);

    public int Rounds { get; private set; }

    /// <summary>Stops collecting and returns every distinct cmdline/environ content seen.</summary>
    public async Task<IReadOnlyCollection<string>> StopAsync()
    {
        await _stop.CancelAsync();
        await _collector;
        return _seen;
    }

    /// <summary>The forms a leaked key could take: raw, hex (either case), base64.</summary>
    public static IEnumerable<string> Forms(ReadOnlySpan<byte> key) =>
    [
        Encoding.Latin1.GetString(key),
        Convert.ToHexStringLower(key),
        Convert.ToHexString(key),
        Convert.ToBase64String(key),
    ];

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    private async Task Collect()
    {
        while (!_stop.IsCancellationRequested)
        {
            foreach (var process in Directory.EnumerateDirectories("/proc").Where(d => char.IsAsciiDigit(Path.GetFileName(d)[0])))
            {
                foreach (var file in new[] { "cmdline", "environ" })
                {
                    try
                    {
                        _seen.Add(Encoding.Latin1.GetString(await File.ReadAllBytesAsync(Path.Combine(process, file))));
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        // The process ended between listing and reading.
                    }
                }
            }

            Rounds++;
        }
    }
}
