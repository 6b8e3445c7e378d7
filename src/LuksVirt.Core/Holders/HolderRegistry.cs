using System.Text.Json.Serialization;
using System.Text.Json;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;

namespace LuksVirt.Core.Holders;

/// <summary>
/// LUKS1 has no tokens, so its holder names live in a registry file without secrets (default
/// <see cref="DefaultPath"/>), keyed by the container's LUKS UUID, so it survives a container
/// moving to another path. Every change is a read-modify-write under an exclusive lock, written
/// to a new file (0600, fsync) and renamed over the old one, so a reader sees the old or the new
/// registry, never a torn one. Records of slots the header no longer has active are dropped on
/// every write: a crash between a slot change and the registry update leaves at most such a
/// record, which <c>keys list</c> does not show.
/// </summary>
internal sealed class HolderRegistry : IHolderStore
{
    public const string DefaultPath = "/var/lib/luksvirt/holders.json";

    /// <summary>Holder names for a few hundred containers take a few hundred KiB at most.</summary>
    private const int MaxRegistryBytes = 4 << 20;

    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    public HolderRegistry(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
    }

    public string Path { get; }

    public string Location => Path;

    public bool LivesInHeader => false;

    public IReadOnlyDictionary<int, HolderRecord> Read(CryptDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var document = Load();
        var records = new Dictionary<int, HolderRecord>();
        if (document.Containers.TryGetValue(device.Uuid, out var container))
        {
            foreach (var (slot, entry) in container.Slots)
            {
                if (entry.ToRecord() is { } record)
                {
                    records[slot] = record;
                }
            }
        }

        return records;
    }

    public void Record(CryptDevice device, int slot, HolderRecord record)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(record);
        Update(device, slots => slots[slot] = RegistrySlot.From(record));
    }

    public void Forget(CryptDevice device, int slot)
    {
        ArgumentNullException.ThrowIfNull(device);
        Update(device, slots => slots.Remove(slot));
    }

    private void Update(CryptDevice device, Action<SortedDictionary<int, RegistrySlot>> change)
    {
        using var registryLock = FileLock.Acquire(Path + ".lock", LockTimeout);
        var document = Load();
        var uuid = device.Uuid;
        if (!document.Containers.TryGetValue(uuid, out var container))
        {
            container = new RegistryContainer();
            document.Containers[uuid] = container;
        }

        change(container.Slots);
        foreach (var stale in container.Slots.Keys.Where(slot => !KeySlots.IsActive(device.GetSlotState(slot))).ToList())
        {
            container.Slots.Remove(stale);
        }

        if (container.Slots.Count == 0)
        {
            document.Containers.Remove(uuid);
        }

        Save(document);
    }

    private RegistryDocument Load()
    {
        try
        {
            using var file = PosixFile.OpenNoFollow(Path, out var status);
            if (status.Type != PosixFileType.Regular || status.Size > MaxRegistryBytes)
            {
                throw new IOException($"holder registry {Path} is not a regular file of at most {MaxRegistryBytes} bytes; move it away (it holds no secrets, only holder names)");
            }

            using var stream = new FileStream(file, FileAccess.Read);
            var document = JsonSerializer.Deserialize(stream, HolderRegistryJsonContext.Default.RegistryDocument);
            return document ?? new RegistryDocument();
        }
        catch (FileNotFoundException)
        {
            return new RegistryDocument();
        }
        catch (JsonException e)
        {
            throw new IOException($"holder registry {Path} is not valid JSON ({e.Message}); repair it or move it away (it holds no secrets, only holder names)", e);
        }
    }

    private void Save(RegistryDocument document)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(document, HolderRegistryJsonContext.Default.RegistryDocument);
        var next = Path + ".new";
        // A leftover of a run killed between create and rename; the lock says none is running.
        File.Delete(next);
        PosixFile.CreateExclusive(next, bytes, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(next, Path, overwrite: true);
        using var directory = PosixFile.OpenDirectoryNoFollow(System.IO.Path.GetDirectoryName(Path)!);
        RandomAccess.FlushToDisk(directory);
    }
}

internal sealed class RegistryDocument
{
    public int Version { get; set; } = 1;

    public SortedDictionary<string, RegistryContainer> Containers { get; set; } = new(StringComparer.Ordinal);
}

internal sealed class RegistryContainer
{
    public SortedDictionary<int, RegistrySlot> Slots { get; set; } = [];
}

internal sealed class RegistrySlot
{
    public string Holder { get; set; } = string.Empty;

    /// <summary>"generated" or "passphrase", as in the LUKS2 token.</summary>
    public string? Key { get; set; }

    public DateTimeOffset? Created { get; set; }

    /// <summary>Set for a quorum slot (k of n holders), as in the LUKS2 token.</summary>
    public RegistryQuorum? Quorum { get; set; }

    public static RegistrySlot From(HolderRecord record) => new()
    {
        Holder = record.Holder,
        Key = HolderKeyKinds.NameOf(record.Kind),
        Created = record.Created,
        Quorum = record.Quorum is { } quorum ? new RegistryQuorum { Threshold = quorum.Threshold, Holders = [.. quorum.Holders], Split = quorum.SplitId } : null,
    };

    public HolderRecord? ToRecord() => HolderName.IsValid(Holder)
        ? new HolderRecord(Holder, HolderKeyKinds.Parse(Key), Created) { Quorum = Quorum is { } q ? QuorumRecord.TryCreate(q.Threshold, q.Holders, q.Split) : null }
        : null;
}

internal sealed class RegistryQuorum
{
    public int Threshold { get; set; }

    public List<string> Holders { get; set; } = [];

    public string? Split { get; set; }
}

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RegistryDocument))]
internal sealed partial class HolderRegistryJsonContext : JsonSerializerContext;
