namespace LuksVirt.Core.Usb;

/// <summary>What a stick's reader skipped, bounded: the first <see cref="MaxListed"/> items are
/// kept, the rest only counted, so a stick with thousands of damaged entries costs no memory
/// and no report space for them.</summary>
internal sealed class SkippedList
{
    public const int MaxListed = 50;

    private readonly List<SkippedOnStick> _items = [];

    public IReadOnlyList<SkippedOnStick> Items => _items;

    public int NotListed { get; private set; }

    public void Add(string where, string reason)
    {
        if (_items.Count < MaxListed)
        {
            _items.Add(new SkippedOnStick(where, reason));
        }
        else
        {
            NotListed++;
        }
    }

    public void AddRange(IReadOnlyList<SkippedOnStick> items, int notListed)
    {
        foreach (var item in items)
        {
            Add(item.Where, item.Reason);
        }

        NotListed += notListed;
    }
}
