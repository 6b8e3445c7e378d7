using System.Text.Json;
using System.Text.RegularExpressions;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Bench;

/// <summary><c>luksvirt bench</c> run as a separate process (see <see cref="BenchCliRun"/>).</summary>
[Collection(SerialBenchMeasurements.Name)]
public sealed partial class BenchCommandTests(BenchCliRun run) : IClassFixture<BenchCliRun>
{
    [Fact]
    public void Bench_json_prints_valid_json_with_the_recommendations_and_exits_0()
    {
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.StandardError}");
        using var json = JsonDocument.Parse(run.StandardOutput);
        var root = json.RootElement;
        Assert.Equal(16, root.GetProperty("native").GetProperty("passMiB").GetInt32());
        Assert.True(root.GetProperty("native").GetProperty("raw").GetProperty("readMBps").GetDouble() > 0);
        Assert.True(root.GetProperty("dmCrypt").TryGetProperty("kernelCryptoApiAvailable", out _));
        Assert.Equal(2, root.GetProperty("pbkdf").GetArrayLength());

        var recommendations = root.GetProperty("recommendations").EnumerateArray().ToList();
        Assert.Equal(["native", "dmcrypt"], recommendations.Select(r => r.GetProperty("backend").GetString()));
        var native = recommendations[0];
        var cipher = native.GetProperty("cipher").GetString();
        var keyBits = native.GetProperty("keyBits").GetInt32();
        Assert.Contains(root.GetProperty("native").GetProperty("ciphers").EnumerateArray(), c =>
            c.GetProperty("cipher").GetString() == cipher && c.GetProperty("keyBits").GetInt32() == keyBits && c.GetProperty("opened").GetBoolean());
        Assert.False(string.IsNullOrEmpty(native.GetProperty("reason").GetString()));
        Assert.False(string.IsNullOrEmpty(recommendations[1].GetProperty("reason").GetString()));
    }

    /// <summary>The throwaway key cannot be known from outside, so this checks its form: no
    /// qemu-io or qemu-img process the bench started carried a secret in argv ("data=", a
    /// key-length token) or environment; each secret object names standard input, a pipe.</summary>
    [Fact]
    public void No_qemu_process_carried_key_material_in_argv_or_environment()
    {
        Assert.Contains(run.QemuProcesses, p => p.Name == "qemu-io" && p.Arguments.Contains("--image-opts"));
        Assert.Contains(run.QemuProcesses, p => p.Arguments.Any(a => a.StartsWith("secret,", StringComparison.Ordinal)));
        foreach (var process in run.QemuProcesses)
        {
            var where = $"{process.Name} (pid {process.Pid}): {string.Join(' ', process.Arguments)}";
            Assert.DoesNotContain(process.Arguments, a => a.Contains("data=", StringComparison.Ordinal));
            Assert.DoesNotContain(process.Arguments, a => KeyLikeToken().IsMatch(a));
            Assert.DoesNotContain(process.Environment, e => KeyLikeToken().IsMatch(e) || e.Contains("data=", StringComparison.Ordinal));
            if (process.Arguments.Any(a => a.StartsWith("secret,", StringComparison.Ordinal)))
            {
                Assert.Contains("secret,id=sec0,file=/dev/stdin", process.Arguments);
                Assert.True(process.StandardInput == "pipe", $"{where}: stdin is {process.StandardInput ?? "inherited"}");
            }
        }
    }

    [Fact]
    public void The_benchmark_images_are_gone_afterwards()
    {
        Assert.Empty(run.LeftInTempDirectory);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    public void A_size_that_is_not_positive_is_refused_with_exit_code_2(string size)
    {
        var result = LuksVirtCli.Run(["bench", "--size", size, "--json"], TimeSpan.FromMinutes(1));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--size", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.StandardOutput);
    }

    // A generated key is 64 base64url characters (its hex form 128): a run that long in an
    // argument or environment value is suspect. Paths here have shorter runs.
    [GeneratedRegex("[A-Za-z0-9_-]{64,}")]
    private static partial Regex KeyLikeToken();
}
