using System.Diagnostics;
using System.Security;
using System.Text.Json;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.Secrets;

// issue 3's benchmark. 6 LUKS1 containers (PBKDF2 calibrated to 500 ms, as `--iter-time 500`),
// a recovery key in slot 0 and one of three holders' keys in slot 1 of each; each holder
// opens two containers. The classic recipe's algorithm (bench/classic-unlock-baseline.sh) is
// the baseline, run in this same process on the same containers; `luksvirt unlock --dry-run`
// runs the scenarios. Prints wall times, key derivations, the floor and the ratios.
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: UnlockBench PATH/TO/luksvirt   (bench/run-unlock-bench.sh builds and runs it)");
    return 2;
}

var luksvirt = Path.GetFullPath(args[0]);
var root = Path.Combine("/var/tmp/luksvirt-bench", Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(root);
File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
var holders = new[] { "a", "b", "c" };
var keys = holders.ToDictionary(h => h, _ => SecretBuffer.GeneratePrintableKey());
var containers = new List<(string Path, string Holder, Guid Secret)>();
using var connection = LibvirtConnection.Open();
var domains = new List<string>();
try
{
    Console.WriteLine("setting up 6 containers (PBKDF2 calibrated to 500 ms per key derivation)...");
    for (var i = 0; i < 6; i++)
    {
        var holder = holders[i / 2];
        var path = Path.Combine(root, $"disk{i}.luks");
        using (var file = File.Create(path))
        {
            file.SetLength(8 << 20);
        }

        using var recovery = SecretBuffer.GeneratePrintableKey();
        using var device = CryptDevice.Open(path);
        var calibrated = PbkdfSettings.Calibrated(PbkdfKind.Pbkdf2, 500);
        device.Format(new LuksFormatOptions(LuksVersion.Luks1, VolumeKeyBytes: 32, Pbkdf: calibrated), recovery.Span, 0);
        device.SetPbkdf(calibrated);
        device.AddKey(recovery.Span, keys[holder].Span, 1);
        var secret = Guid.NewGuid();
        containers.Add((path, holder, secret));
        var name = $"lvbench-{Path.GetFileName(root)}-{i}";
        connection.DefineDomain($"""
            <domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os>
              <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{SecurityElement.Escape(path)}'/>
                <target dev='vda' bus='virtio'/><encryption format='luks'><secret type='passphrase' uuid='{secret}'/></encryption></disk></devices>
            </domain>
            """).Dispose();
        domains.Add(name);
    }

    var config = Path.Combine(root, "luksvirt.xml");
    File.WriteAllText(config, "<vms/>");

    // Baseline: the classic algorithm, key files named as the classic recipe does.
    var baselineKeys = PresentKeys(root, "classic", holders.Select(h => ($"luks-{h}.1.key", h)));
    var baseline = Time(() => Run("bash", [Path.Combine(AppContext.BaseDirectory, "classic-unlock-baseline.sh"), baselineKeys, .. containers.Select(c => c.Path)]));
    // cryptsetup tries both active slots for each key it is given: 2 derivations per key tried.
    var baselineDerivations = containers.Sum(c => 2 * (Array.IndexOf(holders, c.Holder) + 1));
    var perDerivation = baseline.TotalSeconds / baselineDerivations;
    var floor = containers.Count * perDerivation / Environment.ProcessorCount;
    Console.WriteLine($"baseline (classic recipe): {baseline.TotalSeconds:F2} s, {baselineDerivations} key derivations, {perDerivation * 1000:F0} ms each");
    Console.WriteLine($"floor: {containers.Count} disks x 1 derivation / {Environment.ProcessorCount} cores = {floor:F2} s");

    var state = Path.Combine(root, "state.json");
    var hinted = Scenario("all three keys carry the right slot hint, no state file",
        holders.Select(h => ($"luks-{h}.1.key", h)), state);
    Report(hinted, baseline, floor, goal: "<= 1.3x floor", hinted.Wall.TotalSeconds / floor);

    var oneUnhinted = Scenario("key 'c' carries no hint, no state file",
        holders.Select(h => (h == "c" ? "luks-c.key" : $"luks-{h}.1.key", h)), state);
    Report(oneUnhinted, baseline, floor, goal: "<= 0.25x baseline", oneUnhinted.Wall.TotalSeconds / baseline.TotalSeconds);

    // A real unlock writes the state file (who opened which disk); then lock again.
    var realKeys = PresentKeys(root, "real", holders.Select(h => (h == "c" ? "luks-c.key" : $"luks-{h}.1.key", h)));
    Run(luksvirt, ["unlock", "--keys", realKeys, "--config", config, "--state", state, "--log", Path.Combine(root, "log"), .. domains.SelectMany(d => new[] { "--vm", d })], allowFailure: true);
    Run(luksvirt, ["lock", "--config", config, "--log", Path.Combine(root, "log"), "--timeout", "0", .. domains.SelectMany(d => new[] { "--vm", d })], allowFailure: true);
    var withState = Scenario("key 'c' carries no hint, state file from the previous run",
        holders.Select(h => (h == "c" ? "luks-c.key" : $"luks-{h}.1.key", h)), state);
    Report(withState, baseline, floor, goal: "near the floor", withState.Wall.TotalSeconds / floor);
    return 0;

    (TimeSpan Wall, int Derivations, long EngineMs) Scenario(string title, IEnumerable<(string File, string Holder)> files, string statePath)
    {
        var directory = PresentKeys(root, Guid.NewGuid().ToString("N")[..6], files);
        string output = "";
        var wall = Time(() => output = Run(luksvirt, ["unlock", "--dry-run", "--json", "--keys", directory, "--config", config, "--state", statePath,
            "--log", Path.Combine(root, "log"), .. domains.SelectMany(d => new[] { "--vm", d })]));
        var totals = JsonDocument.Parse(output).RootElement.GetProperty("totals");
        Console.WriteLine();
        Console.WriteLine($"scenario: {title}");
        return (wall, totals.GetProperty("keyDerivations").GetInt32(), totals.GetProperty("wallMilliseconds").GetInt64());
    }
}
finally
{
    foreach (var name in domains)
    {
        using var domain = connection.TryLookupDomainByName(name);
        if (domain is { IsActive: true })
        {
            domain.Destroy();
        }

        domain?.Undefine();
    }

    foreach (var key in keys.Values)
    {
        key.Dispose();
    }

    Directory.Delete(root, recursive: true);
}

string PresentKeys(string directoryRoot, string name, IEnumerable<(string File, string Holder)> files)
{
    var directory = Path.Combine(directoryRoot, "keys-" + name);
    Directory.CreateDirectory(directory);
    File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    foreach (var (file, holder) in files)
    {
        using var stream = new FileStream(Path.Combine(directory, file), new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        stream.Write(keys[holder].Span);
    }

    return directory;
}

static void Report((TimeSpan Wall, int Derivations, long EngineMs) run, TimeSpan baseline, double floor, string goal, double ratio)
{
    Console.WriteLine($"  wall {run.Wall.TotalSeconds:F2} s (engine {run.EngineMs} ms), {run.Derivations} key derivations");
    Console.WriteLine($"  vs baseline {run.Wall.TotalSeconds / baseline.TotalSeconds:F2}x, vs floor {run.Wall.TotalSeconds / floor:F2}x; goal {goal}: {ratio:F2}");
}

static TimeSpan Time(Action action)
{
    var clock = Stopwatch.StartNew();
    action();
    return clock.Elapsed;
}

static string Run(string file, IEnumerable<string> arguments, bool allowFailure = false)
{
    var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, Environment = { ["LC_ALL"] = "C" } };
    foreach (var argument in arguments)
    {
        start.ArgumentList.Add(argument);
    }

    using var process = Process.Start(start)!;
    var stderr = process.StandardError.ReadToEndAsync();
    var stdout = process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    if (process.ExitCode != 0 && !allowFailure && !(file.EndsWith("luksvirt", StringComparison.Ordinal) && stdout.StartsWith('{')))
    {
        throw new InvalidOperationException($"{file} exited {process.ExitCode}: {stderr.Result}");
    }

    return stdout;
}
