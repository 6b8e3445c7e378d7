namespace LuksVirt.Core.KeySources;

/// <summary>
/// A place keys come from: the seam between where keys are and what is done with them. A source
/// presents keys in batches (<see cref="IKeyPresentation"/>), each key with its holder, slot hint
/// and origin (<see cref="Keys.PresentedKey"/>), each batch with what it refused or ignored
/// (<see cref="KeysReport"/>). Trials, activation, guest start and the report only ever see those,
/// never the source itself.
/// </summary>
/// <remarks>
/// Today's sources (the key directory, a USB stick) read what is there and present one batch
/// (<see cref="SingleBatch"/>). A source whose material arrives over time (a Tang server that
/// comes up after boot, quorum shares brought one stick at a time, a passphrase typed through
/// systemd's password agents) presents a batch each time a key is complete and ends when it has
/// nothing more to wait for: the engine tries every key presented so far again on each batch, so
/// a guest whose last disk opens with a late key starts then.
/// </remarks>
public interface IKeySource
{
    /// <summary>What the source is, for logs: "key directory /run/luksvirt/keys", "USB stick /dev/sdb".</summary>
    string Description { get; }

    /// <summary>
    /// The batches, as they become available; the caller owns (disposes) each one. A source
    /// refused as a whole throws <see cref="KeySourceRefusedException"/> (nothing was read, so a
    /// run can still say nothing was changed); a read that fails throws another
    /// <see cref="IOException"/> and leaves no partial key behind. <paramref name="context"/>
    /// names the containers the run may open, for sources that fetch keys for particular ones.
    /// </summary>
    IAsyncEnumerable<IKeyPresentation> PresentAsync(KeySourceContext context, CancellationToken cancellationToken);
}
