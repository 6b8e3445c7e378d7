using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Unlock;

namespace LuksVirt.Tests.Quorum;

/// <summary>
/// <c>luksvirt unlock</c> with quorum shares made by <c>luksvirt keys add --quorum 2</c> (three
/// holders), dropped into the key directory as key files, against real libvirtd and QEMU: two
/// holders' shares start the guest, one holder's alone does not and the report says who is
/// awaited, and a share of another container is named and refused.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class QuorumUnlockTests(LibvirtdFixture libvirtd) : IDisposable
{
    private static readonly string[] Holders = ["alice", "bob", "carol"];

    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    private (TestGuest Guest, IReadOnlyDictionary<string, string> Shares) QuorumGuest(string role) =>
        QuorumGuests.Define(_scenario, role, Holders, threshold: 2);

    private void Present(string shareFile, string? name = null) => QuorumGuests.Present(_scenario, shareFile, name);

    [Fact]
    public void Two_holders_shares_start_the_guest_and_one_holders_share_alone_does_not()
    {
        var (guest, shares) = QuorumGuest("quorum");
        Present(shares["carol"]);

        var alone = _scenario.Unlock();

        Assert.Equal(1, alone.ExitCode);
        Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
        var waiting = Assert.Single(UnlockScenario.Json(alone).GetProperty("keys").GetProperty("waiting").EnumerateArray()).GetString()!;
        Assert.Contains("1 of 2 holders present (carol), waiting for alice or bob", waiting, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_scenario.KeyDirectory));

        Present(shares["alice"]);
        Present(shares["bob"]);
        var both = _scenario.Unlock();

        Assert.True(both.ExitCode == 0, both.StandardError + both.StandardOutput);
        Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(guest));
        var report = UnlockScenario.Json(both);
        var disk = Assert.Single(UnlockScenario.GuestIn(report, guest).GetProperty("disks").EnumerateArray());
        Assert.Equal(("Opened", "alice+bob"), (disk.GetProperty("outcome").GetString(), disk.GetProperty("holder").GetString()));
        Assert.Empty(report.GetProperty("keys").GetProperty("waiting").EnumerateArray());
    }

    [Fact]
    public void A_share_of_another_container_is_named_and_does_not_count()
    {
        var (guest, shares) = QuorumGuest("mine");
        var (_, foreign) = QuorumGuest("theirs");
        Present(shares["alice"]);
        Present(foreign["bob"]);

        // Only this guest in scope: the other container's share has no quorum to join here.
        var s = _scenario;
        var result = LuksVirtCli.Run(["unlock", "--keys", s.KeyDirectory, "--json", "--config", s.ConfigPath, "--state", s.StatePath, "--log", s.LogPath, "--vm", guest.Name]);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
        var keys = UnlockScenario.Json(result).GetProperty("keys");
        var rejected = Assert.Single(keys.GetProperty("rejected").EnumerateArray());
        Assert.Contains("bob's share is for container", rejected.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("1 of 2 holders present (alice)", Assert.Single(keys.GetProperty("waiting").EnumerateArray()).GetString(), StringComparison.Ordinal);
    }
}
