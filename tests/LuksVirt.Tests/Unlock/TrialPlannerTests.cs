using LuksVirt.Core.Keys;
using LuksVirt.Core.Unlock;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Tests.Unlock;

public sealed class TrialPlannerTests : IDisposable
{
    private readonly List<PresentedKey> _keys = [];

    public void Dispose() => _keys.ForEach(k => k.Dispose());

    private PresentedKey Key(string holder, int? hint)
    {
        var key = new PresentedKey(holder, hint, "test", SecretBuffer.GeneratePrintableKey());
        _keys.Add(key);
        return key;
    }

    private static List<(string Holder, int Slot, TrialReason Reason)> Order(IReadOnlyList<KeyTrial> trials) =>
        trials.Select(t => (t.Key.Holder, t.Slot, t.Reason)).ToList();

    [Fact]
    public void Last_opener_then_registered_holder_then_hint_then_search()
    {
        var alice = Key("alice", 1);
        var bob = Key("bob", 2);
        var carol = Key("carol", null);

        var trials = TrialPlanner.Plan([alice, bob, carol], [0, 1, 2], lastOpener: ("carol", 2), registeredHolders: new Dictionary<int, string> { [0] = "bob" });

        Assert.Equal(
            [
                ("carol", 2, TrialReason.LastOpener),
                ("bob", 0, TrialReason.RegisteredHolder),
                ("alice", 1, TrialReason.SlotHint),
                ("bob", 2, TrialReason.SlotHint),
                // Search: the unhinted key first, slots named by hints (1, 2) before the others (0).
                ("carol", 1, TrialReason.Search),
                ("carol", 0, TrialReason.Search),
                ("alice", 2, TrialReason.Search),
                ("alice", 0, TrialReason.Search),
                ("bob", 1, TrialReason.Search),
            ],
            Order(trials));
    }

    [Fact]
    public void Every_key_meets_every_active_slot_exactly_once()
    {
        var keys = new[] { Key("a", 5), Key("b", null), Key("c", 1) };

        var trials = TrialPlanner.Plan(keys, [1, 3, 7], lastOpener: ("a", 6), registeredHolders: null);

        Assert.Equal(9, trials.Count);
        Assert.Equal(9, trials.Select(t => (t.Key, t.Slot)).Distinct().Count());
        Assert.DoesNotContain(trials, t => t.Slot is 5 or 6); // hints and records naming inactive slots are dropped
    }

    [Fact]
    public void A_right_hint_is_the_first_trial_of_its_disk()
    {
        var keys = new[] { Key("a", 0), Key("b", 3) };

        var trials = TrialPlanner.Plan(keys, [0, 3], lastOpener: null);

        Assert.Equal(("a", 0, TrialReason.SlotHint), Order(trials)[0]);
        Assert.Equal(("b", 3, TrialReason.SlotHint), Order(trials)[1]);
    }
}
