using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.Holders;

/// <summary>Where the holder names of a container's slots are kept: LUKS2 tokens in the header
/// itself (<see cref="LuksTokenHolders"/>), or for LUKS1, which has no tokens, a registry file
/// without secrets (<see cref="HolderRegistry"/>).</summary>
internal interface IHolderStore
{
    /// <summary>For messages: "LUKS2 tokens" or the registry file.</summary>
    string Location { get; }

    /// <summary>True when records are part of the LUKS header, so a header rollback undoes them too.</summary>
    bool LivesInHeader { get; }

    /// <summary>The record of every slot that has one (active or not; callers filter).</summary>
    IReadOnlyDictionary<int, HolderRecord> Read(CryptDevice device);

    void Record(CryptDevice device, int slot, HolderRecord record);

    void Forget(CryptDevice device, int slot);
}

internal static class HolderStores
{
    /// <summary>LUKS2 keeps holders in its header; LUKS1 in the registry file.</summary>
    public static IHolderStore For(LuksVersion version, string registryPath) =>
        version == LuksVersion.Luks2 ? new LuksTokenHolders() : new HolderRegistry(registryPath);
}
