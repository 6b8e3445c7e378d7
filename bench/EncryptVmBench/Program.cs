using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.OpenSsl;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Bench;

/// <summary>
/// encrypt-vm throughput on a random-data raw disk (2 GiB by default) against
/// <c>qemu-img convert -t none -W -O luks</c> (key through --object secret,file=/dev/stdin) and
/// a plain <c>cp</c> of the same file, in one run; prints MB/s of each and the ratios.
/// <c>--micro</c> measures the building blocks instead: AES-XTS per core and SHA-256.
/// Run as root with libvirtd at qemu:///system; see README.md next to this file.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var options = BenchOptions.Parse(args);
        if (options.Micro)
        {
            Micro();
            return 0;
        }

        Directory.CreateDirectory(options.Directory);
        var work = Path.Combine(options.Directory, "run-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));
        Directory.CreateDirectory(work);
        try
        {
            return Compare(options, work);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static int Compare(BenchOptions options, string work)
    {
        var source = Path.Combine(work, "disk.raw");
        var bytes = options.SizeGiB << 30;
        Console.WriteLine($"writing {options.SizeGiB} GiB of random data to {source} ...");
        WriteRandom(source, bytes);
        Console.WriteLine($"load average before: {File.ReadAllText("/proc/loadavg").Trim()}; {Environment.ProcessorCount} cores; best of {options.Runs} run(s) each");

        var cp = Best(options.Runs, () =>
        {
            var target = Path.Combine(work, "copy.raw");
            var measured = Measure(() => Run("cp", [source, target]));
            File.Delete(target);
            return measured;
        });
        var cpSync = Best(options.Runs, () =>
        {
            var target = Path.Combine(work, "copy.raw");
            var measured = Measure(() =>
            {
                Run("cp", [source, target]);
                Run("sync", [target]); // fsync of that one file, as encrypt-vm does before it switches
            });
            File.Delete(target);
            return measured;
        });
        // What any verified copy must move through the disk: the payload written (bypassing the
        // page cache, as encrypt-vm writes it) and read back from the disk. No cipher, no hash:
        // the floor the storage sets, on the same file system, in the same run.
        var ioFloor = Best(options.Runs, () =>
        {
            var target = Path.Combine(work, "floor.raw");
            var measured = Measure(() =>
            {
                Run("dd", [$"if={source}", $"of={target}", "bs=4M", "oflag=direct", "conv=fsync", "status=none"]);
                Run("dd", [$"if={target}", "of=/dev/null", "bs=4M", "iflag=direct", "status=none"]);
            });
            File.Delete(target);
            return measured;
        });
        var qemu = Best(options.Runs, () =>
        {
            var target = Path.Combine(work, "qemu.luks");
            using var key = SecretBuffer.GeneratePrintableKey(64);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var measured = Measure(() => Run(
                        "qemu-img",
                        ["convert", "-t", "none", "-W", "--object", "secret,id=s0,file=/dev/stdin", "-O", "luks", "-o", "key-secret=s0", source, target],
                        key.Span.ToArray()));
                    File.Delete(target);
                    return measured;
                }
                catch (InvalidOperationException e) when (attempt < 3 && e.Message.Contains("accurate CPU usage", StringComparison.Ordinal))
                {
                    // QEMU calibrates its PBKDF by CPU time and gives up on a busy machine; try again.
                    File.Delete(target);
                }
            }
        });
        var (encryptVm, inTool) = EncryptVm(options, work, source);

        Console.WriteLine();
        Console.WriteLine($"{"tool",-40} {"seconds",8} {"MB/s",8} {"CPU s",8}");
        void Row(string name, Measurement m) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-40} {m.Seconds,8:0.00} {bytes / 1e6 / m.Seconds,8:0} {m.CpuSeconds,8:0.00}"));
        Row("cp", cp);
        Row("cp + fsync", cpSync);
        Row("direct write + read back (dd), no crypto", ioFloor);
        Row("qemu-img convert -t none -W -O luks", qemu);
        Row("luksvirt encrypt-vm (whole command)", encryptVm);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  of which copy + verify (its report):  {inTool:0.00} s"));
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"encrypt-vm vs qemu-img convert: {qemu.Seconds / encryptVm.Seconds:0.00}x faster (goal >= 3)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"encrypt-vm time / cp time:      {encryptVm.Seconds / cp.Seconds:0.00} (goal <= 1.5); / (cp + fsync): {encryptVm.Seconds / cpSync.Seconds:0.00}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"encrypt-vm time / (direct write + read back): {encryptVm.Seconds / ioFloor.Seconds:0.00} (the storage's floor for a copy that is verified from the disk)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"encrypt-vm CPU time / {Environment.ProcessorCount} cores: {encryptVm.CpuSeconds / Environment.ProcessorCount:0.00} s (its wall time on an otherwise idle machine cannot be lower)"));
        Console.WriteLine($"load average after: {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    private static (Measurement Whole, double InTool) EncryptVm(BenchOptions options, string work, string source)
    {
        Measurement? wholeBest = null;
        var inToolBest = double.MaxValue;
        using var connection = LibvirtConnection.Open();
        for (var run = 0; run < options.Runs; run++)
        {
            var name = "lvt-bench-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
            var xml = $"""
                <domain type='qemu'>
                  <name>{name}</name>
                  <memory unit='MiB'>64</memory>
                  <os><type arch='x86_64'>hvm</type></os>
                  <devices>
                    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{source}'/><target dev='vda' bus='virtio'/></disk>
                  </devices>
                </domain>
                """;
            using var domain = connection.DefineDomain(xml);
            var keys = Path.Combine(work, "keys-" + run.ToString(CultureInfo.InvariantCulture));
            try
            {
                string output = string.Empty;
                var whole = Measure(() => output = Run(options.LuksVirt[0], [.. options.LuksVirt.Skip(1), "encrypt-vm", name, "--backend", "native", "--holder", "bench", "--keys-out", keys, "--log", Path.Combine(work, "luksvirt.log"), "--json"]));
                using var report = JsonDocument.Parse(output);
                var inTool = report.RootElement.GetProperty("disks")[0].GetProperty("seconds").GetDouble();
                wholeBest = wholeBest is null || whole.Seconds < wholeBest.Seconds ? whole : wholeBest;
                inToolBest = Math.Min(inToolBest, inTool);
            }
            finally
            {
                domain.Undefine();
                File.Delete(source[..^".raw".Length] + ".raw.luks");
                if (Directory.Exists(keys))
                {
                    Directory.Delete(keys, recursive: true);
                }
            }
        }

        return (wholeBest!, inToolBest);
    }

    private static void Micro()
    {
        // 16 MiB, passed 32 times: cache effects as in `openssl speed`, and enough calls for the
        // JIT's optimised tier.
        const int Bytes = 16 << 20;
        const int Passes = 32;
        var data = GC.AllocateUninitializedArray<byte>(Bytes, pinned: true);
        RandomNumberGenerator.Fill(data);
        var output = GC.AllocateUninitializedArray<byte>(Bytes, pinned: true);
        using var key = SecretBuffer.FromRandom(64);
        using var cipher = XtsSectorCipher.CreateEncryptor(key.Span);
        for (var i = 0; i < Passes; i++)
        {
            cipher.Transform(data, output, 0, 512);
            _ = SHA256.HashData(data);
        }

        var xts = Time(() =>
        {
            for (var i = 0; i < Passes; i++)
            {
                cipher.Transform(data, output, (long)i * Bytes, 512);
            }
        });
        var sha = Time(() =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            for (var i = 0; i < Passes; i++)
            {
                hash.AppendData(data);
            }
        });
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"AES-256-XTS, 512-byte sectors, one core: {(double)Bytes * Passes / 1e6 / xts:0} MB/s"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"SHA-256, one stream:                      {(double)Bytes * Passes / 1e6 / sha:0} MB/s"));
    }

    private static void WriteRandom(string path, long bytes)
    {
        var buffer = new byte[4 << 20];
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
        for (long written = 0; written < bytes; written += buffer.Length)
        {
            RandomNumberGenerator.Fill(buffer);
            file.Write(buffer);
        }

        // On disk before the first measurement, so no tool pays for the generator's writeback.
        file.Flush(flushToDisk: true);
    }

    private static Measurement Best(int runs, Func<Measurement> measure) => Enumerable.Range(0, runs).Select(_ => measure()).MinBy(m => m.Seconds)!;

    private static double Time(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Wall time and the CPU time (user + system) of the child processes it ran: the
    /// CPU time does not depend on what else the machine is doing, the wall time does.</summary>
    private static Measurement Measure(Action action)
    {
        var cpuBefore = ChildrenCpuSeconds();
        var seconds = Time(action);
        return new Measurement(seconds, ChildrenCpuSeconds() - cpuBefore);
    }

    // /proc/self/stat fields 16 and 17 (cutime, cstime): CPU of waited-for children, in clock ticks.
    private static double ChildrenCpuSeconds()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        const double TicksPerSecond = 100; // sysconf(_SC_CLK_TCK) on Linux
        return (long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    private static string Run(string program, IEnumerable<string> arguments, byte[]? standardInput = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            // The key goes through stdin; the array is cleared right after.
            process.StandardInput.BaseStream.Write(standardInput);
            CryptographicOperations.ZeroMemory(standardInput);
        }

        process.StandardInput.Close();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} exited {process.ExitCode}: {stderr.Result}");
        }

        return stdout.Result;
    }
}

internal sealed record Measurement(double Seconds, double CpuSeconds);

internal sealed record BenchOptions(long SizeGiB, string Directory, string[] LuksVirt, int Runs, bool Micro)
{
    public static BenchOptions Parse(string[] args)
    {
        long size = 2;
        var directory = "/var/tmp/luksvirt-bench";
        var luksvirt = Environment.GetEnvironmentVariable("LUKSVIRT_BIN") ?? "luksvirt";
        var runs = 1;
        var micro = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--size-gib": size = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--dir": directory = args[++i]; break;
                case "--luksvirt": luksvirt = args[++i]; break;
                case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--micro": micro = true; break;
                default: throw new ArgumentException($"unknown argument {args[i]}; see bench/EncryptVmBench/README.md");
            }
        }

        // A framework build of luksvirt (luksvirt.dll) runs through dotnet.
        string[] command = luksvirt.EndsWith(".dll", StringComparison.Ordinal) ? ["dotnet", luksvirt] : [luksvirt];
        return new BenchOptions(size, directory, command, runs, micro);
    }
}
