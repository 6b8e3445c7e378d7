namespace LuksVirt.Core.Usb;

/// <summary>
/// Gathers the partitions a table lists, in table order, bounded: each is checked against the
/// device (one that starts beyond its end is skipped, one that ends beyond it is cut there and
/// read as far as it goes: a truncated image), and at most <see cref="MaxPartitions"/> are kept.
/// </summary>
internal sealed class PartitionCollector(long deviceLength, int sectorSize)
{
    /// <summary>Partitions kept from one table; each costs a boot sector read at most.</summary>
    public const int MaxPartitions = 128;

    private readonly List<StickPartition> _partitions = [];

    public int SectorSize => sectorSize;

    public ulong DeviceSectors => (ulong)(deviceLength / sectorSize);

    public IReadOnlyList<StickPartition> Partitions => _partitions;

    public SkippedList Skipped { get; } = new();

    /// <summary>Adds partition <paramref name="number"/> spanning sectors
    /// <paramref name="first"/> to <paramref name="last"/> (inclusive).</summary>
    public void Add(int number, string description, ulong first, ulong last)
    {
        var where = $"partition {number}";
        var sectors = $"{description}, sectors {first} to {last}";
        if (_partitions.Count == MaxPartitions)
        {
            Skipped.Add(where, $"{sectors}: not searched, the table lists more than {MaxPartitions} partitions");
            return;
        }

        if (first == 0 || last < first)
        {
            Skipped.Add(where, $"{sectors}: not a valid extent; not searched");
            return;
        }

        if (first >= DeviceSectors)
        {
            Skipped.Add(where, $"{sectors}: starts beyond the end of the device ({DeviceSectors} sectors of {sectorSize} bytes); not searched");
            return;
        }

        var end = last;
        if (last >= DeviceSectors)
        {
            end = DeviceSectors - 1;
            Skipped.Add(where, $"{sectors}: does not lie within the device ({DeviceSectors} sectors of {sectorSize} bytes); read as far as the device goes");
        }

        // Both below DeviceSectors, which is at most long.MaxValue / 512: the products fit.
        _partitions.Add(new StickPartition(number, (long)first * sectorSize, (long)(end - first + 1) * sectorSize, description));
    }
}
