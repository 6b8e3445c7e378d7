using System.Diagnostics;
using System.Text;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Service;

/// <summary>The leak scanner the service tests rely on finds what it is meant to find.</summary>
public sealed class KeyLeakScannerTests : IDisposable
{
    private readonly TempDirectory _directory = new("leakscan");
    private readonly TestKey _key = new("planted", SecretBuffer.GeneratePrintableKey());

    public void Dispose()
    {
        _key.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public void A_key_planted_in_a_file_as_hex_is_found_and_an_excluded_file_is_not_reported()
    {
        var scanner = new KeyLeakScanner([_key]);
        var planted = _directory.PathOf("sub/planted.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(planted)!);
        File.WriteAllText(planted, "prefix " + Convert.ToHexStringLower(_key.Secret.Span) + " suffix");
        var excluded = _directory.PathOf("stick.img");
        File.WriteAllBytes(excluded, _key.Secret.Span.ToArray());
        File.CreateSymbolicLink(_directory.PathOf("link"), excluded);

        var hits = scanner.ScanFiles([_directory.Path], new HashSet<string> { excluded });

        Assert.Equal([$"{planted}: planted hex"], hits);
    }

    [Fact]
    public void A_key_in_a_process_environment_is_found()
    {
        var scanner = new KeyLeakScanner([_key]);
        var start = new ProcessStartInfo("sleep", "30") { UseShellExecute = false };
        start.Environment["PLANTED"] = Encoding.ASCII.GetString(_key.Secret.Span);
        using var process = Process.Start(start)!;
        try
        {
            Assert.Contains($"/proc/{process.Id}/environ: planted raw", scanner.ScanProcesses());
        }
        finally
        {
            process.Kill();
            process.WaitForExit();
        }
    }
}
