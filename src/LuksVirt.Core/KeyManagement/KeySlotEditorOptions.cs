using LuksVirt.Core.Headers;
using LuksVirt.Core.Holders;

namespace LuksVirt.Core.KeyManagement;

public sealed record KeySlotEditorOptions
{
    public const string DefaultRegistryPath = HolderRegistry.DefaultPath;

    /// <summary>tmpfs, where the unlock lock lives too; lock files hold no data.</summary>
    public const string DefaultLockDirectory = "/run/luksvirt";

    /// <summary>Holder registry for LUKS1 containers (LUKS2 keeps holders in tokens).</summary>
    public string RegistryPath { get; init; } = DefaultRegistryPath;

    /// <summary>Where the edit lock (<c>keyslots.lock</c>) is taken, so two runs never interleave
    /// their changes and rollbacks. One lock for the host: slot changes are rare and short, and a
    /// lock file per container would pile up.</summary>
    public string LockDirectory { get; init; } = DefaultLockDirectory;

    /// <summary>Called after every <see cref="HeaderChangeStep"/>; tests use it (in process, or in the
    /// fault-injection build through <c>TestFaultHook</c>) to crash or fail at a chosen step.</summary>
    public Action<HeaderChangeStep>? AfterStep { get; init; }
}
