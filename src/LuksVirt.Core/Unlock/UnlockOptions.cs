namespace LuksVirt.Core.Unlock;

/// <summary>Everything an unlock run needs besides the keys themselves.</summary>
public sealed record UnlockOptions
{
    public required string ConnectUri { get; init; }

    /// <summary>Explicit --config, or null for the default file (absent = discovery only).</summary>
    public string? ConfigPath { get; init; }

    public IReadOnlyCollection<string> VmNames { get; init; } = [];

    public bool DryRun { get; init; }

    public string StatePath { get; init; } = State.UnlockStateStore.DefaultPath;

    /// <summary>Holder names of LUKS1 slots (LUKS2 keeps them in its header).</summary>
    public string HolderRegistryPath { get; init; } = KeyManagement.KeySlotEditorOptions.DefaultRegistryPath;

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public int MaxParallelTrials { get; init; } = Environment.ProcessorCount;
}
