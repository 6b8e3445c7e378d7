using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Tang;
using LuksVirt.Tests.Unlock;

namespace LuksVirt.Tests.Quorum;

/// <summary>
/// "Tang, or any two holders", against real libvirtd, QEMU and a real Tang server: one container
/// with a 2-of-3 quorum slot (<c>luksvirt keys add --quorum 2</c>) and a Tang binding (Debian's
/// <c>clevis luks bind</c>) in slots of their own. With the server up the guest starts with
/// nobody presenting anything; with the server down one holder's share leaves it off and two
/// holders' shares start it.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class TangOrQuorumTests(LibvirtdFixture libvirtd) : IDisposable
{
    private static readonly string[] Holders = ["alice", "bob", "carol"];
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    [Fact]
    public void Either_the_tang_server_or_two_holders_open_the_disk()
    {
        using var server = new TangServer();
        var (guest, shares) = QuorumGuests.Define(_scenario, "either", Holders, threshold: 2, (disk, admin) => ClevisBind.Bind(disk, admin, server));

        var byTang = _scenario.Unlock();
        Assert.True(byTang.ExitCode == 0, byTang.StandardError + byTang.StandardOutput);
        Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(guest));
        Assert.Equal(0, _scenario.Lock().ExitCode);

        server.Stop();
        Present(shares["carol"]);
        var oneHolder = _scenario.Unlock();
        Assert.Equal(1, oneHolder.ExitCode);
        Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(guest));
        var waiting = Assert.Single(UnlockScenario.Json(oneHolder).GetProperty("keys").GetProperty("waiting").EnumerateArray()).GetString()!;
        Assert.Contains("1 of 2 holders present (carol), waiting for alice or bob", waiting, StringComparison.Ordinal);

        Present(shares["alice"]);
        Present(shares["bob"]);
        var twoHolders = _scenario.Unlock();
        Assert.True(twoHolders.ExitCode == 0, twoHolders.StandardError + twoHolders.StandardOutput);
        Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(guest));
        var disk = Assert.Single(UnlockScenario.GuestIn(UnlockScenario.Json(twoHolders), guest).GetProperty("disks").EnumerateArray());
        Assert.Equal("alice+bob", disk.GetProperty("holder").GetString());
    }

    private void Present(string shareFile) => QuorumGuests.Present(_scenario, shareFile);
}
