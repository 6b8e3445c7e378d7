using System.Text.Json;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Files;
using LuksVirt.Interop.Libc;

namespace LuksVirt.Core.State;

/// <param name="Warning">Set when the file could not be used and an empty state was returned instead.</param>
public sealed record UnlockStateLoadResult(UnlockState State, string? Warning);

/// <summary>
/// The state file (default <c>/var/lib/luksvirt/state.json</c>): which holder and slot last opened
/// each container, and when. It holds no secret. A missing file is an empty state; a corrupt one
/// is moved aside to <c>FILE.corrupt</c> for the administrator and an empty state is used, since
/// this record must never stand between a user and their guests. Saving replaces the file
/// atomically, so a crash leaves either the old or the new state. The file is read without
/// following a symbolic link and without blocking; a path that is not a regular file is no
/// state (and <see cref="CheckPath"/> lets a run refuse it before it touches anything).
/// </summary>
public sealed class UnlockStateStore
{
    public const string DefaultPath = "/var/lib/luksvirt/state.json";

    public const string CorruptSuffix = ".corrupt";

    /// <summary>Far beyond any real host; a bigger file is not ours.</summary>
    public const int MaxFileBytes = 4 * 1024 * 1024;

    private const UnixFileMode FileMode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode DirectoryMode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public UnlockStateStore(string path = DefaultPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        FilePath = Path.GetFullPath(path);
    }

    public string FilePath { get; }

    public string CorruptFilePath => FilePath + CorruptSuffix;

    /// <summary>
    /// Why the path cannot hold the state file (a symbolic link, a FIFO, a directory, ...), naming
    /// the fix; null when it is a regular file or absent. A run asks before it touches anything:
    /// <see cref="Save"/> would replace whatever is there.
    /// </summary>
    public string? CheckPath()
    {
        PosixFileStatus status;
        try
        {
            status = PosixFile.GetLinkStatus(FilePath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;   // Load reports what it cannot read, and the run goes on with an empty state
        }

        return status.Type switch
        {
            PosixFileType.Regular => null,
            PosixFileType.SymbolicLink => $"state file {EchoText.OfPath(FilePath)} is a symbolic link, which LuksVirt does not follow; name the real file with --state, or remove the link",
            _ => $"state file {EchoText.OfPath(FilePath)} is {NotRegularFileException.Describe(status.Type)}, not a regular file; name a regular file (or a path that does not exist yet) with --state",
        };
    }

    public UnlockStateLoadResult Load()
    {
        byte[]? bytes;
        PosixFileStatus status;
        try
        {
            using var file = RegularFile.OpenForReading(FilePath, followLinks: false, out status);
            bytes = RegularFile.ReadAtMost(file, MaxFileBytes);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return new UnlockStateLoadResult(UnlockState.Empty, Warning: null);
        }
        catch (Exception e) when (e is SymbolicLinkRefusedException or NotRegularFileException)
        {
            // Not a file of ours: left where it is, never read, never moved.
            return new UnlockStateLoadResult(UnlockState.Empty, $"cannot use the state file: {e.Message}; starting with an empty state");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new UnlockStateLoadResult(UnlockState.Empty, $"cannot read the state file {FilePath} ({e.Message}); starting with an empty state");
        }

        if (bytes is null)
        {
            return SetAsideCorrupt($"it is {Math.Max(status.Size, MaxFileBytes + 1L)} bytes, more than {MaxFileBytes}");
        }

        UnlockStateDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(bytes, UnlockStateJsonContext.Default.UnlockStateDocument);
        }
        catch (JsonException e)
        {
            return SetAsideCorrupt($"not valid JSON: {e.Message}");
        }

        var problem = ToState(document, out var state);
        return problem is null ? new UnlockStateLoadResult(state, Warning: null) : SetAsideCorrupt(problem);
    }

    public void Save(UnlockState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var document = new UnlockStateDocument
        {
            Version = UnlockStateDocument.CurrentVersion,
            Disks = state.Disks.Values
                .OrderBy(d => d.ContainerPath, StringComparer.Ordinal)
                .Select(d => new UnlockStateDocumentDisk
                {
                    Container = d.ContainerPath,
                    LuksUuid = d.LuksUuid,
                    Holder = d.Holder,
                    Slot = d.Slot,
                    OpenedAtUtc = d.OpenedAtUtc.ToUniversalTime(),
                })
                .ToList(),
            LastRun = state.LastRun is { } run
                ? new UnlockStateDocumentRun { FinishedAtUtc = run.FinishedAtUtc.ToUniversalTime(), AllGuestsRunning = run.AllGuestsRunning, GuestsRunning = run.GuestsRunning, GuestsInScope = run.GuestsInScope }
                : null,
        };
        var bytes = JsonSerializer.SerializeToUtf8Bytes(document, UnlockStateJsonContext.Default.UnlockStateDocument);

        var directory = Path.GetDirectoryName(FilePath)!;
        Directory.CreateDirectory(directory, DirectoryMode0700);

        AtomicFile.Replace(FilePath, bytes, FileMode0600);
    }

    private UnlockStateLoadResult SetAsideCorrupt(string reason)
    {
        string kept;
        try
        {
            File.Move(FilePath, CorruptFilePath, overwrite: true);
            kept = $"kept as {CorruptFilePath}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            kept = $"could not be moved to {CorruptFilePath} ({e.Message})";
        }

        return new UnlockStateLoadResult(UnlockState.Empty, $"the state file {FilePath} is corrupt ({reason}); it was {kept}; starting with an empty state");
    }

    /// <summary>Null when the document is a valid state, else what is wrong with it.</summary>
    private static string? ToState(UnlockStateDocument? document, out UnlockState state)
    {
        state = UnlockState.Empty;
        if (document is null)
        {
            return "it holds JSON null";
        }

        if (document.Version != UnlockStateDocument.CurrentVersion)
        {
            return $"version {document.Version} is not {UnlockStateDocument.CurrentVersion}";
        }

        if (document.Disks is null)
        {
            return "it has no \"disks\" list";
        }

        foreach (var disk in document.Disks)
        {
            if (disk is null || string.IsNullOrEmpty(disk.Container) || disk.Slot is not >= 0 || disk.OpenedAtUtc is null)
            {
                return "a disk entry lacks its container, slot or time";
            }

            if (state.Disks.ContainsKey(disk.Container))
            {
                return $"container '{disk.Container}' is listed twice";
            }

            state = state.With(new DiskUnlockRecord(disk.Container, disk.LuksUuid, disk.Holder, disk.Slot.Value, disk.OpenedAtUtc.Value));
        }

        if (document.LastRun is { } run)
        {
            if (run.FinishedAtUtc is not { } finished || run.AllGuestsRunning is not { } allRunning
                || run.GuestsRunning is not { } running || run.GuestsInScope is not { } inScope || running < 0 || inScope < running)
            {
                return "the last run's record is incomplete";
            }

            state = state.WithLastRun(new UnlockRunRecord(finished, allRunning, running, inScope));
        }

        return null;
    }
}
