using LuksVirt.Core.Logging;

namespace LuksVirt.Core.Inventory;

/// <summary>
/// A <c>--vm</c> name that is neither in the configuration nor a libvirt domain with an encrypted
/// disk: bad usage (exit code 2), reported before anything is touched.
/// </summary>
public sealed class UnknownGuestException : Exception
{
    public UnknownGuestException(IReadOnlyList<string> names, InventoryConfig config)
        : base(Describe(names, config))
    {
        Names = names;
    }

    public IReadOnlyList<string> Names { get; }

    private static string Describe(IReadOnlyList<string> names, InventoryConfig config)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(config);
        var where = config.FileExisted ? $"not in {EchoText.OfPath(config.FilePath)}" : $"no configuration file at {EchoText.OfPath(config.FilePath)}";
        // --vm names come from the command line, unchecked: each is cut short, and so is the list.
        var list = EchoText.List(names, maxShown: 10);
        return $"unknown guest {list}: {where}, and libvirt has no domain of that name with a LUKS-encrypted disk; check the --vm name ('virsh list --all')";
    }
}
