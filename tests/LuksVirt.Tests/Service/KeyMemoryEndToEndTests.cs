using System.Diagnostics;
using System.Globalization;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Unlock;
using LuksVirt.Tests.Usb;

namespace LuksVirt.Tests.Service;

/// <summary>
/// Where keys are in the memory of real LuksVirt processes: <c>luksvirt watch</c> holds its keys
/// on locked pages while it unlocks and holds none once the unlock is over (its whole readable
/// memory is searched for them, and no key memory is left mapped); a run whose kernel will not
/// lock memory still unlocks, and says its keys were not locked.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class KeyMemoryEndToEndTests(LibvirtdFixture libvirtd) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    // What /proc/PID/mem cannot hand out by design: secret memory (out of the kernel's direct
    // map), the vDSO data pages, and device or PFN mappings.
    private static readonly string[] UnreadableByDesign = ["/secretmem", "[vvar", "[vvar_vclock"];

    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public async Task Watch_holds_its_keys_on_locked_pages_during_an_unlock_and_no_key_afterwards()
    {
        var (db, web, alice, bob) = TwoGuests();
        var stick = new KeyStickImage(_scenario.Directory.PathOf("stick.img"))
            .Add("luks-alice.1.key", alice.Secret.Span)
            .Add("keys/luks-bob.key", bob.Secret.Span);
        using var watch = WatchProcess.Start(_scenario.Directory, ["--device-filter", "loop", .. _scenario.ScopeArguments()]);
        await watch.WaitReadyAsync(Bound);
        var pid = watch.ProcessId.ToString(CultureInfo.InvariantCulture);
        var lockedAtRest = ProcessMemoryMap.LockedKiloBytes(pid);

        // Samples the watch's locked memory (VmLck) over and over while it reads the stick and unlocks.
        using var sampling = new CancellationTokenSource();
        var samples = Task.Run(() =>
        {
            var most = 0L;
            while (!sampling.IsCancellationRequested)
            {
                most = Math.Max(most, ProcessMemoryMap.LockedKiloBytes(pid));
            }

            return most;
        });
        using var loop = LoopDevice.Attach(stick.Path);
        var finished = await watch.WaitForLineAsync($"{loop.Name}: unlock finished", Bound);
        await sampling.CancelAsync();
        var mostLockedDuringRun = await samples;

        Assert.Contains("(2 started, 0 already running)", watch.Lines[finished], StringComparison.Ordinal);
        Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(db));
        Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(web));
        Assert.True(mostLockedDuringRun > lockedAtRest, $"VmLck never rose above {lockedAtRest} kB while the keys were held:\n{watch.Log}");

        // The watch handles one event after the other: once it reports the stick removed, the
        // unlock's handler has returned and disposed of everything it held.
        loop.Detach();
        await watch.WaitForLineAsync($"{loop.Name}: medium removed", Bound, from: finished);

        // After the run: every key buffer is gone (secret memory is the one thing /proc/PID/mem
        // cannot read, so none may be left mapped), nothing stays locked, and no copy of a key
        // is anywhere in the memory that can be read.
        var keyMemoryLeft = ProcessMemoryMap.Read(pid).Where(m => m.IsSecretMemory).ToList();
        Assert.True(keyMemoryLeft.Count == 0, $"key memory is still mapped:\n{string.Join('\n', keyMemoryLeft)}");
        Assert.Equal(lockedAtRest, ProcessMemoryMap.LockedKiloBytes(pid));
        var scan = new ProcessMemoryScanner(_scenario.Keys).Scan(watch.ProcessId);
        Assert.Empty(scan.Hits);
        Assert.All(scan.Unreadable, m => Assert.True(IsUnreadableByDesign(m), $"could not read {m}"));
        Assert.True(scan.BytesScanned > 16L * 1024 * 1024, $"only {scan.BytesScanned} bytes of the watch's memory were read");
        Assert.False(watch.HasExited);
    }

    [Fact]
    public void The_scanner_finds_a_key_a_process_holds()
    {
        var key = _scenario.NewKey("held");
        var start = new ProcessStartInfo("python3")
        {
            ArgumentList = { "-c", "import sys, time; key = sys.stdin.buffer.read(); print('held', flush=True); time.sleep(60)" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        try
        {
            process.StandardInput.BaseStream.Write(key.Secret.Span);
            process.StandardInput.Close();
            Assert.Equal("held", process.StandardOutput.ReadLine());

            var scan = new ProcessMemoryScanner([key]).Scan(process.Id);

            Assert.Contains(scan.Hits, h => h.StartsWith("held raw at ", StringComparison.Ordinal));
        }
        finally
        {
            process.Kill();
            process.WaitForExit();
        }
    }

    [Fact]
    public void An_unlock_whose_keys_the_kernel_will_not_lock_still_starts_the_guest_and_logs_so()
    {
        var alice = _scenario.NewKey("alice");
        var guest = _scenario.Guests.Define(EncryptedGuests.UniqueName("unlocked"),
            _scenario.Guests.CreateDisk("unlocked-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        _scenario.Present(alice, "luks-alice.key");
        var (file, prefix) = LuksVirtCli.Command();

        // Root without CAP_IPC_LOCK (gone from the bounding set, so exec does not restore it) and
        // with RLIMIT_MEMLOCK 0: neither memfd_secret nor mlock can lock a page.
        var result = ToolRunner.Run("setpriv",
            ["--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock", "--", "prlimit", "--memlock=0:0", "--", file, .. prefix, .. _scenario.UnlockArguments()],
            timeout: TimeSpan.FromMinutes(3));

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(guest));
        Assert.Contains("1 key(s) held in memory the kernel would not lock", File.ReadAllText(_scenario.LogPath), StringComparison.Ordinal);
    }

    private static bool IsUnreadableByDesign(MemoryMapping mapping) =>
        UnreadableByDesign.Any(name => mapping.Name.StartsWith(name, StringComparison.Ordinal))
        || mapping.Flags.Contains("io") || mapping.Flags.Contains("pf");

    /// <summary>Two guests; every container has a never-presented recovery key in slot 0.</summary>
    private (TestGuest Db, TestGuest Web, TestKey Alice, TestKey Bob) TwoGuests()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var bob = s.NewKey("bob");
        var db = s.Guests.Define(EncryptedGuests.UniqueName("db"),
            s.Guests.CreateDisk("db-d0", "vda", new Dictionary<int, TestKey> { [0] = s.NewKey("recovery"), [1] = alice }));
        var web = s.Guests.Define(EncryptedGuests.UniqueName("web"),
            s.Guests.CreateDisk("web-d0", "vda", new Dictionary<int, TestKey> { [0] = s.NewKey("recovery"), [2] = bob }));
        return (db, web, alice, bob);
    }
}
