using System.Text.Json.Serialization;

namespace LuksVirt.Core.State;

/// <summary>The on-disk shape of the state file (version 1). Field names are the file format: do not rename.</summary>
internal sealed class UnlockStateDocument
{
    public const int CurrentVersion = 1;

    public int Version { get; set; }

    public List<UnlockStateDocumentDisk>? Disks { get; set; }

    /// <summary>Absent in files written before it was added: no run known.</summary>
    public UnlockStateDocumentRun? LastRun { get; set; }
}

internal sealed class UnlockStateDocumentRun
{
    public DateTimeOffset? FinishedAtUtc { get; set; }

    public bool? AllGuestsRunning { get; set; }

    public int? GuestsRunning { get; set; }

    public int? GuestsInScope { get; set; }
}

internal sealed class UnlockStateDocumentDisk
{
    public string? Container { get; set; }

    public Guid? LuksUuid { get; set; }

    public string? Holder { get; set; }

    public int? Slot { get; set; }

    public DateTimeOffset? OpenedAtUtc { get; set; }
}

/// <summary>Source-generated (AOT: no reflection-based serialization).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(UnlockStateDocument))]
internal sealed partial class UnlockStateJsonContext : JsonSerializerContext;
