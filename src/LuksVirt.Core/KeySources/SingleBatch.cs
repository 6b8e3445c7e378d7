namespace LuksVirt.Core.KeySources;

/// <summary>The batches of a source that reads what is there at once (a directory, a stick): one
/// batch, read when the caller first asks for it, on the caller's thread.</summary>
internal static class SingleBatch
{
    public static IAsyncEnumerable<IKeyPresentation> Of(Func<IKeyPresentation> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        return new Batches(read);
    }

    private sealed class Batches(Func<IKeyPresentation> read) : IAsyncEnumerable<IKeyPresentation>
    {
        public IAsyncEnumerator<IKeyPresentation> GetAsyncEnumerator(CancellationToken cancellationToken = default) => new Enumerator(read);
    }

    private sealed class Enumerator(Func<IKeyPresentation> read) : IAsyncEnumerator<IKeyPresentation>
    {
        private IKeyPresentation? _current;
        private bool _read;

        public IKeyPresentation Current => _current ?? throw new InvalidOperationException("no batch read yet");

        public ValueTask<bool> MoveNextAsync()
        {
            if (_read)
            {
                return ValueTask.FromResult(false);
            }

            _read = true;
            _current = read();
            return ValueTask.FromResult(true);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
