using LuksVirt.Core.Inventory;
using LuksVirt.Core.Lock;

namespace LuksVirt.Tests.Lock;

/// <summary>Issue 10, item 11: lock goes down start group by start group, the last started
/// first; the guests of one group go down side by side.</summary>
public sealed class StopGroupTests
{
    private static Guest G(string name, int? order) => new(name, Guid.NewGuid(), order, [], GuestOrigin.Discovery, null);

    [Fact]
    public void Unordered_guests_go_first_then_the_highest_order_down_to_the_lowest()
    {
        // As the inventory sorts them: by order, unordered last.
        var groups = HostLocker.StopGroups([G("db", 1), G("cache", 1), G("app", 2), G("web", null), G("mail", null)]);

        Assert.Equal([["web", "mail"], ["app"], ["db", "cache"]], groups.Select(g => g.Select(x => x.Name).ToArray()).ToArray());
    }

    [Fact]
    public void Without_any_order_every_guest_is_in_one_group()
    {
        var groups = HostLocker.StopGroups([G("a", null), G("b", null), G("c", null)]);

        Assert.Equal(3, Assert.Single(groups).Count);
    }

    [Fact]
    public void No_guests_no_groups()
    {
        Assert.Empty(HostLocker.StopGroups([]));
    }
}
