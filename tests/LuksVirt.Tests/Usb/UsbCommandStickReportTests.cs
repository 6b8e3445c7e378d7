using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Unlock;

namespace LuksVirt.Tests.Usb;

/// <summary>
/// <c>luksvirt usb</c> as a separate process on a GPT stick whose key sits in its second FAT
/// partition next to a damaged entry (real libvirtd, dry run): the key is used, and what was
/// skipped reaches the report, in JSON and on the terminal.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class UsbCommandStickReportTests(LibvirtdFixture libvirtd) : IDisposable
{
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public void Skipped_entries_and_partitions_reach_the_unlock_report()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("usbrep"), s.Guests.CreateDisk("usbrep-d0", "vda", new Dictionary<int, TestKey> { [0] = s.NewKey("recovery"), [1] = alice }));
        var path = s.Directory.PathOf("stick.img");
        KeyStickImage.Partition(path, 8, "label: gpt\nstart=2048, size=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\nstart=4096, size=4096, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n");
        KeyStickImage.FormatPartition(path, 4096, 2048).Add("keys/luks-alice.1.key", alice.Secret.Span).Add("photos/readme.txt", "x\n"u8);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.AsSpan(2 * 1024 * 1024).IndexOf("README  TXT"u8) + (2 * 1024 * 1024) + 1] = 0x1B;
        File.WriteAllBytes(path, bytes);

        var json = LuksVirtCli.Run(["usb", path, "--dry-run", "--json", .. s.ScopeArguments()]);
        var text = LuksVirtCli.Run(["usb", path, "--dry-run", .. s.ScopeArguments()]);

        Assert.True(json.ExitCode == 0, json.StandardError + json.StandardOutput);
        var report = UnlockScenario.Json(json);
        Assert.Equal("WouldStart", UnlockScenario.GuestIn(report, guest).GetProperty("outcome").GetString());
        var skipped = report.GetProperty("keys").GetProperty("skipped").EnumerateArray()
            .Select(e => $"{e.GetProperty("where").GetString()}: {e.GetProperty("reason").GetString()}").ToList();
        Assert.Equal(2, skipped.Count);
        Assert.StartsWith("partition 1: GPT type Linux filesystem, no FAT file system", skipped[0], StringComparison.Ordinal);
        Assert.StartsWith("photos/(entry at slot ", skipped[1], StringComparison.Ordinal);
        Assert.EndsWith("the 8.3 name contains a control or reserved character; entry skipped", skipped[1], StringComparison.Ordinal);
        Assert.True(text.ExitCode == 0, text.StandardError + text.StandardOutput);
        Assert.Contains("skipped on the stick: photos/(entry at slot", text.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001B", text.StandardOutput + text.StandardError, StringComparison.Ordinal);
    }
}
