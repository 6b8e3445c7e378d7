using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Containers;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Unlock;

/// <summary><c>unlock</c> reports a damaged header per disk, with libcryptsetup's reason and the
/// fix, and starts the other guests (reliability.md, hostile review 13).</summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class DamagedHeaderUnlockTests(LibvirtdFixture libvirtd) : IDisposable
{
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public void A_disk_with_a_damaged_header_is_refused_with_the_reason_and_the_fix_and_the_other_guest_starts()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var db = s.Guests.Define(EncryptedGuests.UniqueName("dmgok"), s.Guests.CreateDisk("dmgok-d0", "vda", new Dictionary<int, TestKey> { [0] = alice }));
        var broken = s.Guests.CreateDisk("dmg-d0", "vda", new Dictionary<int, TestKey> { [0] = alice });
        var web = s.Guests.Define(EncryptedGuests.UniqueName("dmg"), broken);
        DamagedHeaders.Apply(broken.Path, DamagedHeaders.Fault.Luks1KeySlotInPayload);
        s.Present(alice, "luks-alice.0.key");

        var result = s.Unlock();

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(DomainState.Running, s.Guests.StateOf(db));
        Assert.Equal(DomainState.Shutoff, s.Guests.StateOf(web));
        Assert.False(s.Guests.HasAnySecret(web));
        var report = UnlockScenario.GuestIn(UnlockScenario.Json(result), web);
        Assert.Equal("NotStarted", report.GetProperty("outcome").GetString());
        var disk = Assert.Single(report.GetProperty("disks").EnumerateArray());
        Assert.Equal("Refused", disk.GetProperty("outcome").GetString());
        DamagedHeaderCliTests.AssertNamesDamageReasonAndFix(disk.GetProperty("message").GetString()!, broken.Path, DamagedHeaders.Fault.Luks1KeySlotInPayload, "unlock");
    }
}
