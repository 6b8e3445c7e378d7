using System.Runtime.CompilerServices;
using LuksVirt.Core.KeySources;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Unlock;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Unlock;

/// <summary>
/// The engine behind the key-source seam, in process against real libvirtd and QEMU: a source
/// that presents its keys in several batches (as a Tang server, a quorum of shares or a typed
/// passphrase will) gets a run on each batch with every key so far, and is no longer asked once
/// every guest runs. The key directory and sticks (one batch each) are covered end to end elsewhere.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class UnlockEngineTests(LibvirtdFixture libvirtd) : IDisposable
{
    private readonly UnlockScenario _scenario = new(libvirtd);
    private readonly StringWriter _console = new();

    public void Dispose()
    {
        _scenario.Dispose();
        _console.Dispose();
    }

    [Fact]
    public async Task A_key_presented_in_a_later_batch_starts_the_guest_whose_last_disk_it_opens()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var bob = s.NewKey("bob");
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("late"),
            s.Guests.CreateDisk("late-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }),
            s.Guests.CreateDisk("late-d1", "vdb", new Dictionary<int, TestKey> { [1] = bob }));
        var source = new BatchSource([alice], [bob]);

        var outcome = await RunAsync(source);

        Assert.Equal(UnlockEnding.AllDone, outcome.Ending);
        Assert.Equal(DomainState.Running, s.Guests.StateOf(guest));
        Assert.Equal(2, source.BatchesTaken);
        Assert.Equal(2, outcome.Report!.Keys.Presented);
        Assert.Equal(2, source.Wiped);
        Assert.True(source.AllKeysZeroed, "a presented key outlived the run");
        Assert.Contains("not every disk can be opened", _console.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_source_is_not_asked_for_more_keys_once_every_guest_runs()
    {
        var s = _scenario;
        var alice = s.NewKey("alice");
        var bob = s.NewKey("bob");
        var guest = s.Guests.Define(EncryptedGuests.UniqueName("early"), s.Guests.CreateDisk("early-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        var source = new BatchSource([alice], [bob]);

        var outcome = await RunAsync(source);

        Assert.Equal(UnlockEnding.AllDone, outcome.Ending);
        Assert.Equal(DomainState.Running, s.Guests.StateOf(guest));
        Assert.Equal(1, source.BatchesTaken);
        Assert.Equal(1, outcome.Report!.Keys.Presented);
        Assert.True(source.AllKeysZeroed, "a presented key outlived the run");
    }

    private async Task<UnlockOutcome> RunAsync(IKeySource source)
    {
        var options = _scenario.Options(libvirtd.Uri);
        using var log = new ActivityLog(null, _console);
        return await new UnlockEngine(options, log).RunAsync([source], CancellationToken.None);
    }

    /// <summary>Presents each group of keys as one batch, when asked for the next one.</summary>
    private sealed class BatchSource(params TestKey[][] batches) : IKeySource
    {
        private readonly List<KeySet> _presented = [];

        public int BatchesTaken => _presented.Count;

        public int Wiped { get; private set; }

        public bool AllKeysZeroed => _presented.SelectMany(k => k).All(k => k.Secret.IsDisposed);

        public string Description => "test batches";

        public async IAsyncEnumerable<IKeyPresentation> PresentAsync(KeySourceContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            foreach (var batch in batches)
            {
                // A key that arrives later, as from a network or a person.
                await Task.Yield();
                var keys = new KeySet(batch.Select(k => new PresentedKey(k.Holder, 1, "test:" + k.Holder, SecretBuffer.CopyOf(k.Secret.Span))));
                _presented.Add(keys);
                yield return new Presentation(keys, this);
            }
        }

        private sealed class Presentation(KeySet keys, BatchSource source) : IKeyPresentation
        {
            public KeySet Keys => keys;

            public KeysReport Report => new(keys.Count, [], [], Deleted: false);

            public bool LeftRefusedKeyFiles => false;

            public void WipeSource() => source.Wiped++;

            public void Dispose() => keys.Dispose();
        }
    }
}
