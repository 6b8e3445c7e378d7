using LuksVirt.Core.Keys;

namespace LuksVirt.Core.KeySources.Tang;

/// <summary>The keys recovered from Tang servers in one round, each for its container and slot;
/// bindings that could not be recovered are reported as rejected, by container and server.</summary>
internal sealed class TangPresentation : IKeyPresentation
{
    /// <summary>The holder name a recovered key is reported under.</summary>
    public const string Holder = "tang";

    private TangPresentation(KeySet keys, IReadOnlyList<RejectedKeyReport> rejected)
    {
        Keys = keys;
        Report = new KeysReport(keys.Count, rejected, [], Deleted: false);
    }

    public KeySet Keys { get; }

    public KeysReport Report { get; }

    /// <summary>Nothing was stored on the host: nothing is left for the administrator.</summary>
    public bool LeftRefusedKeyFiles => false;

    /// <summary>Takes over the recovered keys.</summary>
    public static TangPresentation From(IReadOnlyList<TangRecovery> recoveries)
    {
        ArgumentNullException.ThrowIfNull(recoveries);
        var keys = new List<PresentedKey>();
        var rejected = new List<RejectedKeyReport>();
        foreach (var recovery in recoveries)
        {
            var binding = recovery.Binding;
            var name = binding.KeySlot is { } slot
                ? $"{binding.ContainerPath} ({binding.Where}, key slot {slot})"
                : $"{binding.ContainerPath} ({binding.Where})";
            if (recovery.Key is { } key)
            {
                keys.Add(new PresentedKey(Holder, binding.KeySlot, TangKeySource.SourcePrefix + recovery.Server, key) { ForContainer = binding.ContainerUuid });
            }
            else
            {
                rejected.Add(new RejectedKeyReport(name, recovery.Problem ?? "no key recovered"));
            }
        }

        return new TangPresentation(new KeySet(keys), rejected);
    }

    public void WipeSource()
    {
    }

    public void Dispose() => Keys.Dispose();
}
