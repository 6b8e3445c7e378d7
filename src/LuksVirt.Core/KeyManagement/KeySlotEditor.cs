using System.Globalization;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Headers;
using LuksVirt.Core.Holders;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.KeyManagement;

/// <summary>
/// Lists, adds, removes and replaces the key slots of one LUKS container, with a named holder per
/// slot (LUKS2 tokens, or the <see cref="HolderRegistry"/> for LUKS1). Every change is authorised
/// by a key that opens the container, refused with nothing changed when it cannot be done as
/// asked (<see cref="ContainerRefusedException"/>), and runs against an in-memory copy of the
/// header that is written back and verified if any step fails (<see cref="SlotChangeFailedException"/>).
/// Steps are ordered so that a process killed after any of them leaves a known key that opens.
/// </summary>
public sealed partial class KeySlotEditor : IDisposable
{
    private const string EditLockFileName = "keyslots.lock";

    private static readonly TimeSpan EditLockTimeout = TimeSpan.FromSeconds(30);

    private readonly KeySlotEditorOptions _options;
    private readonly IHolderStore _holders;
    private CryptDevice _device;
    private readonly string _uuid;

    private KeySlotEditor(string containerPath, CryptDevice device, KeySlotEditorOptions options)
    {
        ContainerPath = containerPath;
        _device = device;
        _options = options;
        _uuid = device.Uuid;
        Version = device.Version;
        SlotCount = device.KeySlotCount;
        _holders = HolderStores.For(Version, options.RegistryPath);
    }

    /// <summary>Loads the container; <see cref="ContainerRefusedException"/> when it is missing or not LUKS.</summary>
    public static KeySlotEditor Open(string containerPath, KeySlotEditorOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerPath);
        return new KeySlotEditor(containerPath, LoadContainer(containerPath), options ?? new KeySlotEditorOptions());
    }

    public string ContainerPath { get; }

    public string Uuid => _uuid;

    public LuksVersion Version { get; }

    public int SlotCount { get; }

    /// <summary>Where holder names are kept: "LUKS2 tokens" or the registry file.</summary>
    public string HolderLocation => _holders.Location;

    /// <summary>Every slot with its state and, for slots in use (active or unbound), its recorded
    /// holder and other tools' tokens, as the container is now (the header is read again).</summary>
    public IReadOnlyList<KeySlotInfo> ListSlots()
    {
        Reload();
        return ListLoadedSlots();
    }

    private List<KeySlotInfo> ListLoadedSlots()
    {
        var records = _holders.Read(_device);
        var tokens = OtherToolTokens.Read(_device);
        var states = _device.GetSlotStates();
        var slots = new List<KeySlotInfo>(states.Count);
        for (var slot = 0; slot < states.Count; slot++)
        {
            // A record of an inactive slot is a leftover (LUKS1 registry), not a holder.
            var used = KeySlots.IsUsed(states[slot]);
            var holder = used && records.TryGetValue(slot, out var record) ? record : null;
            var other = used && tokens.TryGetValue(slot, out var types) ? types : [];
            slots.Add(new KeySlotInfo(slot, states[slot], holder, other));
        }

        return slots;
    }

    public void Dispose() => _device.Dispose();

    /// <summary>crypt_load with the refusals every container command shares.</summary>
    internal static CryptDevice LoadContainer(string path)
    {
        if (!File.Exists(path))
        {
            throw new ContainerRefusedException($"{path} does not exist or is a directory: give the container's image file or block device");
        }

        try
        {
            return CryptDevice.Load(path);
        }
        catch (NotLuksException e)
        {
            throw new ContainerRefusedException($"{path} is not a LUKS container (no valid LUKS1/LUKS2 header); LuksVirt never formats anything implicitly: check the path", e);
        }
    }

    /// <summary>The key that authorises a change must open the container now; returns the slot it opens.
    /// Throws <see cref="WrongKeyException"/> otherwise (nothing changed).</summary>
    private int RequireAuthorisingKey(SecretBuffer authorisingKey)
    {
        ArgumentNullException.ThrowIfNull(authorisingKey);
        return _device.TestKey(authorisingKey.Span);
    }

    private FileLock AcquireEditLock()
    {
        var editLock = FileLock.Acquire(Path.Combine(_options.LockDirectory, EditLockFileName), EditLockTimeout);
        try
        {
            // Another run may have changed the header between Open and the lock: work on what is there now.
            Reload();
            return editLock;
        }
        catch
        {
            editLock.Dispose();
            throw;
        }
    }

    private void Reload()
    {
        var fresh = LoadContainer(ContainerPath);
        if (fresh.Uuid != _uuid)
        {
            fresh.Dispose();
            throw new ContainerRefusedException($"{ContainerPath}: the container changed (its UUID is no longer {_uuid}) while LuksVirt was working on it; run the command again");
        }

        _device.Dispose();
        _device = fresh;
    }

    private void AfterStep(HeaderChangeStep step) => _options.AfterStep?.Invoke(step);

    private long HeaderBytes => checked((long)_device.DataOffsetSectors * 512);

    private static void RequireHolderName(string holder)
    {
        ArgumentNullException.ThrowIfNull(holder);
        if (HolderName.Explain(holder) is { } reason)
        {
            throw new ContainerRefusedException($"holder name \"{Sanitize(holder)}\" is not valid: {reason} (it becomes part of the key file name luks-HOLDER.SLOT.key)");
        }
    }

    private void RequireSlotInRange(int slot)
    {
        if (slot < 0 || slot >= SlotCount)
        {
            throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"key slot {slot} is out of range: {ContainerPath} is {VersionName} with slots 0 to {SlotCount - 1}"));
        }
    }

    private static List<int> FreeSlots(List<KeySlotInfo> slots) =>
        slots.Where(s => s.State == KeySlotState.Inactive).Select(s => s.Slot).ToList();

    /// <summary>Active slots whose key <paramref name="holder"/> holds alone (quorum slots are
    /// held by several and never count).</summary>
    private static List<KeySlotInfo> SlotsHeldBy(List<KeySlotInfo> slots, string holder) =>
        slots.Where(s => s.IsActive && s.Holder?.Quorum is null && string.Equals(s.Holder?.Holder, holder, StringComparison.OrdinalIgnoreCase)).ToList();

    /// <summary>The one active slot of <paramref name="holder"/>; refuses none or several.</summary>
    private KeySlotInfo SingleSlotOf(List<KeySlotInfo> slots, string holder)
    {
        var held = SlotsHeldBy(slots, holder);
        return held.Count switch
        {
            1 => held[0],
            0 when QuorumSlotOf(slots, holder) is { } shared => throw new ContainerRefusedException(ExplainQuorumShare(shared, holder)),
            0 => throw new ContainerRefusedException($"no active key slot of {ContainerPath} is held by \"{holder}\" (holders are in {HolderLocation}); see 'luksvirt keys list --container {ContainerPath}'"),
            _ => throw new ContainerRefusedException(
                $"\"{holder}\" holds key slots {string.Join(", ", held.Select(s => s.Slot))} of {ContainerPath} (left by an interrupted replace?); " +
                "remove the one no longer wanted with 'luksvirt keys remove --slot N' first"),
        };
    }

    private string VersionName => Version == LuksVersion.Luks1 ? "LUKS1" : "LUKS2";

    private static string Sanitize(string text) => Keys.KeyFileName.Sanitize(text);

    private static HolderRecord NewRecord(string holder, HolderKeyKind kind)
    {
        var now = DateTimeOffset.UtcNow;
        return new HolderRecord(holder, kind, new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero));
    }
}
