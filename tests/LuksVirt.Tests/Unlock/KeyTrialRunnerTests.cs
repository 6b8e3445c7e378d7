using LuksVirt.Core.Keys;
using LuksVirt.Core.Unlock;
using LuksVirt.Cryptsetup;
using LuksVirt.Secrets;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Unlock;

/// <summary>Trials against real LUKS images (libcryptsetup, minimal PBKDF2 cost).</summary>
public sealed class KeyTrialRunnerTests : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    public void Dispose() => _owned.ForEach(d => d.Dispose());

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private (string Path, PresentedKey Key) Container(string holder)
    {
        var directory = Own(new TempDirectory("trials"));
        var key = Own(new PresentedKey(holder, 1, "test", SecretBuffer.GeneratePrintableKey()));
        var (path, _) = TestImages.Format(directory, LuksVersion.Luks2, key.Secret.Span, slot: 1);
        return (path, key);
    }

    private static KeyTrialRunner Runner() => new(maxParallel: 2, memoryBudgetKiB: 1 << 20);

    [Fact]
    public async Task Each_disk_is_opened_by_its_key_and_derivations_are_counted()
    {
        var (first, alice) = Container("alice");
        var (second, bob) = Container("bob");
        // bob's key is tried on the first disk before alice's: one wrong derivation, then the right one.
        var outcomes = await Runner().RunAsync(
            [
                new DiskTrials(first, [new KeyTrial(bob, 1, TrialReason.Search), new KeyTrial(alice, 1, TrialReason.Search)]),
                new DiskTrials(second, [new KeyTrial(bob, 1, TrialReason.SlotHint), new KeyTrial(alice, 1, TrialReason.Search)]),
            ],
            CancellationToken.None);

        Assert.Equal(("alice", 2), (outcomes[0].Opened?.Key.Holder, outcomes[0].Derivations));
        Assert.Equal(("bob", 1), (outcomes[1].Opened?.Key.Holder, outcomes[1].Derivations));
        Assert.All(outcomes, o => Assert.Null(o.VolumeKey));
    }

    [Fact]
    public async Task KeepVolumeKey_hands_over_the_volume_key_the_trial_unlocked_in_the_same_derivation()
    {
        var (path, alice) = Container("alice");
        var (_, bob) = Container("bob");

        var outcomes = await Runner().RunAsync(
            [new DiskTrials(path, [new KeyTrial(bob, 1, TrialReason.Search), new KeyTrial(alice, 1, TrialReason.SlotHint)], KeepVolumeKey: true)],
            CancellationToken.None);
        try
        {
            Assert.Equal(("alice", 2), (outcomes[0].Opened?.Key.Holder, outcomes[0].Derivations));
            using var device = CryptDevice.Load(path);
            using var expected = device.GetVolumeKey(alice.Secret.Span, 1);
            Assert.NotNull(outcomes[0].VolumeKey);
            Assert.True(expected.Span.SequenceEqual(outcomes[0].VolumeKey!.Span));
        }
        finally
        {
            DiskTrialOutcome.DisposeVolumeKeys(outcomes);
        }

        // Disposed means zeroed and unusable: nothing of the key stays readable through the outcome.
        Assert.Throws<ObjectDisposedException>(() => outcomes[0].VolumeKey!.Span.ToArray());
    }

    [Fact]
    public async Task A_disk_no_key_opens_has_no_opener_and_no_volume_key()
    {
        var (path, _) = Container("alice");
        var (_, bob) = Container("bob");

        var outcomes = await Runner().RunAsync(
            [new DiskTrials(path, [new KeyTrial(bob, 1, TrialReason.Search)], KeepVolumeKey: true)],
            CancellationToken.None);

        Assert.Null(outcomes[0].Opened);
        Assert.Null(outcomes[0].VolumeKey);
        Assert.Equal(1, outcomes[0].Derivations);
        Assert.Null(outcomes[0].Error);
    }
}
