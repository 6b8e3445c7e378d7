using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Service;
using LuksVirt.Tests.Usb;

namespace LuksVirt.Tests.Unlock;

/// <summary>
/// Reports never contradict the outcome (hostile review item 12), with real processes, real
/// signals and real guests: a guest whose start went through before SIGTERM is reported started;
/// a running guest whose dmcrypt disk is not what LuksVirt would give it is a problem (exit 1);
/// a dry run predicts the real run's refusals (a binary key for a native disk, no device-mapper).
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed partial class UnlockReportHonestyTests(LibvirtdFixture libvirtd) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public async Task Sigterm_while_a_guest_starts_reports_the_guest_as_it_ended()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("sigterm"), s.Guests.CreateDisk("sigterm-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        s.Present(alice, "luks-alice.1.key");

        // The key goes into its secret right before virDomainCreate, which takes QEMU's whole
        // start-up: the signal lands while the guest starts.
        var (exitCode, stdout, stderr) = await RunUntilLineThenTerminateAsync(s.UnlockArguments(), "key handed to libvirt secret");

        var report = JsonDocument.Parse(stdout).RootElement;
        var reported = UnlockScenario.GuestIn(report, guest).GetProperty("outcome").GetString();
        var state = s.Guests.StateOf(guest);
        Assert.False(s.Guests.HasAnySecret(guest), "a key stayed in a libvirt secret");
        Assert.True(report.GetProperty("interrupted").GetBoolean(), stderr);
        if (state == DomainState.Running)
        {
            Assert.Equal("Started", reported);
            Assert.True(exitCode == 0, stderr);
            Assert.DoesNotContain("not started stay off", stderr.Replace("0 guest(s) not started stay off", "", StringComparison.Ordinal), StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal("NotStarted", reported);
            Assert.Equal(1, exitCode);
        }
    }

    [Fact]
    public async Task Watch_stopped_right_after_a_stick_arrived_reports_exactly_the_guests_that_started()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var guests = Enumerable.Range(0, 3)
            .Select(i => s.Guests.Define(EncryptedGuests.UniqueName($"w{i}"), s.Guests.CreateDisk($"w{i}-d0", "vda", new Dictionary<int, TestKey> { [1] = alice })))
            .ToList();
        var stick = new KeyStickImage(s.Directory.PathOf("stick.img")).Add("luks-alice.1.key", alice.Secret.Span);
        using var watch = WatchProcess.Start(s.Directory, ["--device-filter", "loop", .. s.ScopeArguments()]);
        await watch.WaitReadyAsync(Bound);

        using var loop = LoopDevice.Attach(stick.Path);
        await watch.WaitForLineAsync("key handed to libvirt secret", Bound);
        Assert.Equal(0, watch.Terminate(Bound));

        var finished = watch.Lines.SingleOrDefault(l => l.Contains($"{loop.Name}: unlock finished", StringComparison.Ordinal));
        Assert.True(finished is not null, "the interrupted unlock gave no report:\n" + watch.Log);
        var match = FinishedLine().Match(finished);
        Assert.True(match.Success, finished);
        var running = guests.Count(g => s.Guests.StateOf(g) == DomainState.Running);
        Assert.Equal(running, int.Parse(match.Groups["started"].Value, CultureInfo.InvariantCulture));
        Assert.Equal(running, int.Parse(match.Groups["running"].Value, CultureInfo.InvariantCulture));
        Assert.All(guests, g => Assert.False(s.Guests.HasAnySecret(g), $"{g.Name}: a key stayed in a libvirt secret"));
        if (running == guests.Count)
        {
            Assert.DoesNotContain(watch.Lines, l => l.Contains("guests not yet started stay off", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void A_running_guest_whose_dmcrypt_mapping_is_not_open_is_a_problem_not_a_success()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var container = s.Guests.CreateDisk("run-d0", "vda", new Dictionary<int, TestKey> { [1] = alice });
        var link = s.Directory.PathOf("run-d0.raw.decrypted");
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("run"), extraDevices: "", disks: []);
        File.WriteAllText(s.ConfigPath, $"""
            <vms allowed-image-dirs='{s.Directory.Path}'>
              <vm name='{guest.Name}'>
                <luks>
                  <disk source='{container.Path}' target='{link}' />
                </luks>
              </vm>
            </vms>
            """);
        using (var connection = libvirtd.Open())
        using (var domain = connection.LookupDomainByName(guest.Name))
        {
            domain.Start();
        }

        s.Present(alice, "luks-alice.1.key");

        var result = s.Unlock();

        Assert.True(result.ExitCode == 1, result.StandardError + result.StandardOutput);
        var report = UnlockScenario.Json(result);
        Assert.False(report.GetProperty("allGuestsRunning").GetBoolean());
        var guestReport = UnlockScenario.GuestIn(report, guest);
        Assert.Equal("AlreadyRunning", guestReport.GetProperty("outcome").GetString());
        var disk = Assert.Single(guestReport.GetProperty("disks").EnumerateArray());
        Assert.Equal("Failed", disk.GetProperty("outcome").GetString());
        Assert.Contains("luks-run-d0.raw.decrypted is not open", disk.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains(report.GetProperty("problems").EnumerateArray(), p => p.GetString()!.Contains(guest.Name, StringComparison.Ordinal));
    }

    [Fact]
    public void A_dry_run_refuses_a_binary_key_for_a_native_disk_as_the_real_run_does()
    {
        var s = _scenario;
        using var binary = new TestKey("bin", SecretBuffer.CopyOf([0x00, 0xff, 0x10, 0x80, .. "and then some text"u8]));
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("bin"), s.Guests.CreateDisk("bin-d0", "vda", new Dictionary<int, TestKey> { [1] = binary }));
        s.Present(binary, "luks-bin.1.key");

        var dry = s.Unlock("--dry-run");
        var real = s.Unlock();

        foreach (var result in new[] { dry, real })
        {
            Assert.True(result.ExitCode == 1, result.StandardError + result.StandardOutput);
            var guestReport = UnlockScenario.GuestIn(UnlockScenario.Json(result), guest);
            Assert.Equal("NotStarted", guestReport.GetProperty("outcome").GetString());
            var disk = Assert.Single(guestReport.GetProperty("disks").EnumerateArray());
            Assert.Equal(("Refused", "bin", 1), (disk.GetProperty("outcome").GetString(), disk.GetProperty("holder").GetString(), disk.GetProperty("slot").GetInt32()));
            Assert.Contains("the key that opens it is binary", disk.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(guest));
        Assert.False(s.Guests.HasAnySecret(guest));
    }

    [Fact]
    public void A_dry_run_tries_the_keys_of_dmcrypt_disks_and_predicts_the_real_run()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var container = s.Guests.CreateDisk("dm-d0", "vda", new Dictionary<int, TestKey> { [1] = alice });
        var link = s.Directory.PathOf("dm-d0.raw.decrypted");
        var name = EncryptedGuests.UniqueName("dm");
        s.Guests.DefinePlain(name, link);
        File.WriteAllText(s.ConfigPath, $"""
            <vms allowed-image-dirs='{s.Directory.Path}'>
              <vm name='{name}'>
                <luks>
                  <disk source='{container.Path}' target='{link}' />
                </luks>
              </vm>
            </vms>
            """);
        s.Present(alice, "luks-alice.1.key");
        string[] scope = ["--keys", s.KeyDirectory, "--config", s.ConfigPath, "--state", s.StatePath, "--log", s.LogPath, "--json", "--vm", name];

        var dry = LuksVirtCli.Run(["unlock", .. scope, "--dry-run"]);

        var guest = UnlockScenario.Json(dry).GetProperty("guests").EnumerateArray().Single();
        var disk = Assert.Single(guest.GetProperty("disks").EnumerateArray());
        // A trial needs no device-mapper: the key was tried either way.
        Assert.Equal(("alice", 1), (disk.GetProperty("holder").GetString(), disk.GetProperty("derivations").GetInt32()));
        if (CryptDevice.IsDeviceMapperAvailable)
        {
            Assert.True(dry.ExitCode == 0, dry.StandardError + dry.StandardOutput);
            Assert.Equal("WouldStart", guest.GetProperty("outcome").GetString());
            return;
        }

        Assert.Equal(1, dry.ExitCode);
        Assert.Equal(("NotStarted", "Refused"), (guest.GetProperty("outcome").GetString(), disk.GetProperty("outcome").GetString()));
        Assert.Contains("device-mapper not available", disk.GetProperty("message").GetString(), StringComparison.Ordinal);

        var real = LuksVirtCli.Run(["unlock", .. scope]);

        var realGuest = UnlockScenario.Json(real).GetProperty("guests").EnumerateArray().Single();
        var realDisk = Assert.Single(realGuest.GetProperty("disks").EnumerateArray());
        Assert.Equal(1, real.ExitCode);
        Assert.Equal(("NotStarted", "Refused"), (realGuest.GetProperty("outcome").GetString(), realDisk.GetProperty("outcome").GetString()));
        Assert.Equal(disk.GetProperty("message").GetString(), realDisk.GetProperty("message").GetString());
    }

    [GeneratedRegex(@"unlock finished( \(interrupted\))?: (?<running>\d+)/\d+ guest\(s\) running \((?<started>\d+) started")]
    private static partial Regex FinishedLine();

    /// <summary>Runs luksvirt, sends SIGTERM as soon as stderr shows <paramref name="line"/>, and
    /// returns how it ended.</summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunUntilLineThenTerminateAsync(IEnumerable<string> arguments, string line)
    {
        var (file, prefix) = LuksVirtCli.Command();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in prefix.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        var stderr = new System.Text.StringBuilder();
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = new Process { StartInfo = start };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }

            if (e.Data?.Contains(line, StringComparison.Ordinal) == true)
            {
                seen.TrySetResult();
            }
        };
        process.Start();
        process.BeginErrorReadLine();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await seen.Task.WaitAsync(Bound);
        ToolRunner.Run("kill", "-TERM", process.Id.ToString(CultureInfo.InvariantCulture)).EnsureSuccess("kill -TERM");
        using var deadline = new CancellationTokenSource(Bound);
        await process.WaitForExitAsync(deadline.Token);
        var output = await stdout;
        lock (stderr)
        {
            return (process.ExitCode, output, stderr.ToString());
        }
    }
}
