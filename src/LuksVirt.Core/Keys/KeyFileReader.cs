using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.Keys;

/// <summary>
/// The one way LuksVirt reads a key file on the host, for the key directory and for an
/// administrator's <c>--key-file</c> alike. The entry is looked at before it is opened (fstatat /
/// lstat, never following a link: opening a device node already runs its driver, opening a FIFO
/// may wait forever), then opened with O_NOFOLLOW|O_NONBLOCK and judged again on the descriptor
/// (fstat): whatever the name points at by then is what is read, or refused as changed. Only a
/// regular, non-empty file of at most <see cref="SecretBuffer.MaxKeyLength"/> bytes (and, under
/// <see cref="KeyFileChecks.DroppedByRoot"/>, with one name, owned by root, writable by nobody
/// else) is read, straight into locked memory (<see cref="SecretBuffer"/>), byte for byte: a
/// trailing newline is part of the key. A stick's files, whose sizes come from their directory
/// entries, go through <see cref="CheckSize"/>.
/// </summary>
internal static class KeyFileReader
{
    private const uint GroupOrOtherWritable = 0b000_010_010;   // 0022

    /// <summary>The entry <paramref name="name"/> (a single path component) of an open directory.</summary>
    public static KeyFileRead ReadAt(SafeFileHandle directory, string name, KeyFileChecks checks)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentException.ThrowIfNullOrEmpty(name);
        return Read(new Location(directory, name), checks);
    }

    /// <summary>The file at <paramref name="path"/> (a final symbolic link is refused, never followed).</summary>
    public static KeyFileRead Read(string path, KeyFileChecks checks)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Read(new Location(null, path), checks);
    }

    /// <summary>The size rule of every key source: why a key of <paramref name="size"/> bytes is
    /// refused (<paramref name="status"/> is kept in the refusal), or null when it may be read.</summary>
    public static KeyFileRefusal? CheckSize(long size, PosixFileStatus? status = null) => size switch
    {
        0 => new KeyFileRefusal(KeyFileProblem.Empty, status),
        > SecretBuffer.MaxKeyLength => new KeyFileRefusal(KeyFileProblem.TooLarge, (status ?? default) with { Size = size }),
        _ => null,
    };

    /// <summary>Why a file with <paramref name="status"/> must be neither read nor changed under
    /// <paramref name="checks"/>, or null when it may be.</summary>
    public static KeyFileRefusal? CheckSafety(PosixFileStatus status, KeyFileChecks checks)
    {
        if (checks != KeyFileChecks.DroppedByRoot)
        {
            return null;
        }

        KeyFileProblem? problem = status switch
        {
            { Type: PosixFileType.Directory } => KeyFileProblem.Directory,
            // Writing to it (the wipe) would change the file under its other name too.
            { LinkCount: not 1 } => KeyFileProblem.SeveralNames,
            { Uid: not 0 } => KeyFileProblem.ForeignOwner,
            // A symbolic link's own mode is always 0777 and means nothing.
            _ when status.Type != PosixFileType.SymbolicLink && (status.Mode & GroupOrOtherWritable) != 0 => KeyFileProblem.WritableByOthers,
            _ => null,
        };
        return problem is { } found ? new KeyFileRefusal(found, status) : null;
    }

    private static KeyFileRead Read(Location at, KeyFileChecks checks)
    {
        try
        {
            var look = at.LinkStatus();
            if (CheckSafety(look, checks) is { } unsafeFile)
            {
                return KeyFileRead.Refused(unsafeFile);
            }

            if (look.Type != PosixFileType.Regular)
            {
                return KeyFileRead.Refused(new KeyFileRefusal(KeyFileProblem.NotRegular, look));
            }

            // The descriptor is what counts: whatever the name points at now is what is read.
            using var file = at.OpenNoFollow(out var status);
            if (status.Type != PosixFileType.Regular || CheckSafety(status, checks) is not null)
            {
                return KeyFileRead.Refused(new KeyFileRefusal(KeyFileProblem.Changed));
            }

            if (CheckSize(status.Size, status) is { } size)
            {
                return KeyFileRead.Refused(size);
            }

            return new KeyFileRead(SecretBuffer.ReadFrom(file), null, status);
        }
        catch (FileNotFoundException)
        {
            return KeyFileRead.Refused(new KeyFileRefusal(KeyFileProblem.Missing));
        }
        catch (SymbolicLinkRefusedException)
        {
            // A link where a regular file was a moment ago.
            return KeyFileRead.Refused(new KeyFileRefusal(KeyFileProblem.Changed));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            // InvalidDataException: the file grew past the limit or shrank to nothing between
            // fstat and read; ReadFrom then leaves no partial key behind.
            return KeyFileRead.Refused(new KeyFileRefusal(KeyFileProblem.Unreadable, Detail: e.Message));
        }
    }

    /// <summary>An entry of an open directory, or (no directory) a path.</summary>
    private readonly record struct Location(SafeFileHandle? Directory, string Name)
    {
        public PosixFileStatus LinkStatus() => Directory is null ? PosixFile.GetLinkStatus(Name) : PosixFile.GetLinkStatusAt(Directory, Name);

        public SafeFileHandle OpenNoFollow(out PosixFileStatus status) => Directory is null
            ? PosixFile.OpenNoFollow(Name, out status)
            : PosixFile.OpenAtNoFollow(Directory, Name, out status);
    }
}

/// <summary>What <see cref="KeyFileReader"/> got: the key (the caller owns it) or the refusal, and
/// the status of the file as read (null when refused).</summary>
internal readonly record struct KeyFileRead(SecretBuffer? Key, KeyFileRefusal? Refusal, PosixFileStatus? Status)
{
    public static KeyFileRead Refused(KeyFileRefusal refusal) => new(null, refusal, null);
}
