using System.Globalization;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Keys;

/// <summary>Why <see cref="KeyFileReader"/> refused a key file.</summary>
internal enum KeyFileProblem
{
    /// <summary>Not there (any more).</summary>
    Missing,

    /// <summary>A directory where <see cref="KeyFileChecks.DroppedByRoot"/> expects a key file.</summary>
    Directory,

    /// <summary>More than one name (a hard link).</summary>
    SeveralNames,

    /// <summary>Not owned by root.</summary>
    ForeignOwner,

    /// <summary>Writable by group or others.</summary>
    WritableByOthers,

    /// <summary>A symbolic link, FIFO, socket, device node (or, as given, a directory).</summary>
    NotRegular,

    /// <summary>What was opened is not what was looked at (swapped, or made unsafe, in between).</summary>
    Changed,

    /// <summary>0 bytes.</summary>
    Empty,

    /// <summary>More than <see cref="SecretBuffer.MaxKeyLength"/> bytes.</summary>
    TooLarge,

    /// <summary>Reading failed (I/O error, permissions, grew while read); <see cref="KeyFileRefusal.Detail"/> says how.</summary>
    Unreadable,
}

/// <summary>
/// A refused key file: the problem, what stat said about it (where it got that far) and the
/// error text of a failed read. <see cref="Reason"/> words it as key sources list it next to the
/// file's name; a command that reads one file an administrator named words it its own way.
/// </summary>
internal sealed record KeyFileRefusal(KeyFileProblem Problem, PosixFileStatus? Status = null, string? Detail = null)
{
    /// <summary>The refusal as a key source reports it, e.g. "empty (0 bytes)", "is a FIFO, not a
    /// regular file", or for an unsafe file the fix, naming <paramref name="path"/>.</summary>
    public string Reason(string path) => Problem switch
    {
        KeyFileProblem.Missing => "disappeared while the directory was read",
        KeyFileProblem.Directory => $"is a directory, not a key file; LuksVirt never removes directories: fix: rmdir {path} (or move it away)",
        KeyFileProblem.SeveralNames => string.Create(CultureInfo.InvariantCulture,
            $"has {Stat.LinkCount} names (a hard link to a file elsewhere); never read or changed, as that would change the other name's file too: fix: rm {path}, then copy the key in (cp, not ln)"),
        KeyFileProblem.ForeignOwner => string.Create(CultureInfo.InvariantCulture,
            $"is owned by uid {Stat.Uid}, not root; never read or changed: fix: chown root:root {path} if it is a key you trust"),
        KeyFileProblem.WritableByOthers => $"is writable by group or others (mode {Octal(Stat.Mode)}); never read or changed: fix: chmod 0600 {path} if it is a key you trust",
        KeyFileProblem.NotRegular => Stat.Type == PosixFileType.SymbolicLink
            ? "is a symbolic link (not followed)"
            : $"is {NotRegularFileException.Describe(Stat.Type)}, not a regular file",
        KeyFileProblem.Changed => "changed while it was being read; present it again",
        KeyFileProblem.Empty => "empty (0 bytes)",
        KeyFileProblem.TooLarge => string.Create(CultureInfo.InvariantCulture, $"larger than {SecretBuffer.MaxKeyLength} bytes ({Stat.Size} bytes)"),
        _ => $"cannot be read: {Detail}",
    };

    /// <summary>The status the refusal was decided on (every problem but <see cref="KeyFileProblem.Missing"/>,
    /// <see cref="KeyFileProblem.Changed"/> and <see cref="KeyFileProblem.Unreadable"/> has one).</summary>
    public PosixFileStatus Stat => Status ?? throw new InvalidOperationException($"a {Problem} refusal carries no file status");

    private static string Octal(uint mode) => Convert.ToString(mode & 0xFFF, 8).PadLeft(4, '0');
}
