namespace LuksVirt.Core.KeySources;

/// <summary>A batch a caller has already read (the <c>watch</c> service reads a stick itself to
/// tell "no FAT here" from a failed read) offered as a key source, so that it goes through the
/// run like any other source. The run takes the batch over when it reads it; disposing the source
/// zeroes the batch if no run took it (a run refused before reading its sources).</summary>
public sealed class PresentedSource(string description, IKeyPresentation batch) : IKeySource, IDisposable
{
    private IKeyPresentation? _batch = batch ?? throw new ArgumentNullException(nameof(batch));

    public string Description => description;

    public IAsyncEnumerable<IKeyPresentation> PresentAsync(KeySourceContext context, CancellationToken cancellationToken) =>
        SingleBatch.Of(() => Interlocked.Exchange(ref _batch, null) ?? throw new InvalidOperationException("the batch was presented already"));

    public void Dispose() => Interlocked.Exchange(ref _batch, null)?.Dispose();
}
