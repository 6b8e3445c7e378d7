using LuksVirt.Core.Keys;
using LuksVirt.Core.Unlock;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
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

    [Fact]
    public async Task A_trial_that_throws_is_its_disks_error_and_the_other_disks_finish()
    {
        var (path, alice) = Container("alice");
        var wrong = Enumerable.Range(0, 3).Select(i => Own(new PresentedKey($"wrong{i}", 1, "test", SecretBuffer.GeneratePrintableKey()))).ToList();
        // CryptDevice.Load("") throws ArgumentException, not a CryptsetupException: before, that
        // left the disk "in flight" and the other worker waited for it forever.
        var broken = new DiskTrials("", [new KeyTrial(alice, 1, TrialReason.Search), new KeyTrial(alice, 2, TrialReason.Search)]);
        var sound = new DiskTrials(path, [.. wrong.Select(k => new KeyTrial(k, 1, TrialReason.Search)), new KeyTrial(alice, 1, TrialReason.Search)]);

        var outcomes = await Runner().RunAsync([broken, sound], CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Null(outcomes[0].Opened);
        Assert.Contains("ArgumentException", outcomes[0].Error, StringComparison.Ordinal);
        Assert.Equal(1, outcomes[0].Derivations);
        Assert.Equal(("alice", 4), (outcomes[1].Opened?.Key.Holder, outcomes[1].Derivations));
    }

    [Fact]
    public async Task A_failure_after_the_volume_key_was_unlocked_is_the_disks_error_and_the_key_is_not_handed_out()
    {
        var (path, alice) = Container("alice");
        var (other, _) = Container("bob");
        // The log callback fails right after the derivation that unlocked the volume key.
        var runner = new KeyTrialRunner(maxParallel: 2, memoryBudgetKiB: 1 << 20, log: message => throw new IOException("injected: log write failed"));

        var outcomes = await runner.RunAsync(
            [
                new DiskTrials(path, [new KeyTrial(alice, 1, TrialReason.SlotHint)], KeepVolumeKey: true),
                new DiskTrials(other, [new KeyTrial(alice, 1, TrialReason.Search)], KeepVolumeKey: true),
            ],
            CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Null(outcomes[0].Opened);
        Assert.Null(outcomes[0].VolumeKey);
        Assert.Contains("injected: log write failed", outcomes[0].Error, StringComparison.Ordinal);
        Assert.Equal((null, 1, null), (outcomes[1].Opened, outcomes[1].Derivations, outcomes[1].Error));
    }
}
