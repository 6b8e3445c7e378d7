namespace LuksVirt.Tests.Bench;

/// <summary>Tests that measure speed run one after the other: on a 2-core host two measurements
/// at once would slow each other into meaningless figures.</summary>
[CollectionDefinition(Name)]
public sealed class SerialBenchMeasurements
{
    public const string Name = "Bench measurements";
}
