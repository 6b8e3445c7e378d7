using System.Collections;

namespace LuksVirt.Core.Keys;

/// <summary>The keys presented for one unlock; disposing the set zeroes every key in it.</summary>
public sealed class KeySet : IReadOnlyList<PresentedKey>, IDisposable
{
    private readonly List<PresentedKey> _keys;

    /// <summary>Takes over <paramref name="keys"/>: they are disposed with the set.</summary>
    public KeySet(IEnumerable<PresentedKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        _keys = [.. keys];
    }

    public int Count => _keys.Count;

    public PresentedKey this[int index] => _keys[index];

    public IEnumerator<PresentedKey> GetEnumerator() => _keys.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        foreach (var key in _keys)
        {
            key.Dispose();
        }
    }
}
