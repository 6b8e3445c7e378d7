using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop.Libc;

public static partial class PosixFile
{
    /// <summary>
    /// Removes a file LuksVirt looked at earlier and wipes what could be a key in it, in the one
    /// order a crash cannot spoil: the name goes first (unlinkat, never following a link), then up
    /// to <paramref name="maxZeroBytes"/> bytes are overwritten with zeros through a descriptor
    /// opened before the unlink. A kill at any moment leaves either the untouched file under its
    /// name or no name at all, never a zeroed file a later run would read as a key.
    /// <para>
    /// Nothing is done to a file that is not <paramref name="expected"/> (the name was reused) or
    /// that has another name (a hard link elsewhere: its content is that name's too). Zeros are
    /// written only once fstat says the file has no name left: then no one can open it by a path,
    /// and none can be added (the kernel refuses to link an inode whose count reached zero).
    /// Symbolic links, FIFOs, sockets and device nodes are unlinked without being opened.
    /// </para>
    /// </summary>
    public static UnlinkOutcome UnlinkThenZeroAt(SafeFileHandle directory, string name, FileIdentity expected, long maxZeroBytes)
    {
        ArgumentNullException.ThrowIfNull(directory);
        EnsureSingleComponent(name);
        ArgumentOutOfRangeException.ThrowIfNegative(maxZeroBytes);
        PosixFileStatus entry;
        try
        {
            entry = ToStatus(Interop.Libc.LinkStatusAt(directory, name, name));
        }
        catch (FileNotFoundException)
        {
            return UnlinkOutcome.Gone;
        }

        if (entry.Identity != expected)
        {
            return UnlinkOutcome.NotSameFile;
        }

        if (entry.LinkCount != 1)
        {
            return UnlinkOutcome.HasOtherLinks;
        }

        if (entry.Type != PosixFileType.Regular)
        {
            // Nothing to wipe, and opening a device node would already run its driver.
            return TryUnlinkAt(directory, name) ? UnlinkOutcome.Removed : UnlinkOutcome.Gone;
        }

        using var file = TryOpenForWipe(directory, name);
        if (file is not null)
        {
            var before = ToStatus(Interop.Libc.FileStatus(file, name));
            if (before.Identity != expected)
            {
                return UnlinkOutcome.NotSameFile;
            }

            if (before.LinkCount != 1)
            {
                return UnlinkOutcome.HasOtherLinks;
            }
        }

        if (!TryUnlinkAt(directory, name))
        {
            return UnlinkOutcome.Gone;
        }

        if (file is null)
        {
            return UnlinkOutcome.Removed;
        }

        var after = ToStatus(Interop.Libc.FileStatus(file, name));
        if (after.LinkCount != 0)
        {
            // Someone linked it elsewhere between our look and the unlink: that name's content stays.
            return UnlinkOutcome.Removed;
        }

        WriteZeros(file, Math.Min(after.Size, maxZeroBytes), name);
        return UnlinkOutcome.RemovedAndZeroed;
    }

    /// <summary>A descriptor to write zeros through, or null when the file cannot be opened for
    /// writing (immutable, read-only file system): the name is removed all the same.</summary>
    private static SafeFileHandle? TryOpenForWipe(SafeFileHandle directory, string name)
    {
        try
        {
            return Interop.Libc.OpenAt(directory, name, WriteNoFollow, name);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>unlinkat; false when the name is already gone.</summary>
    private static bool TryUnlinkAt(SafeFileHandle directory, string name)
    {
        try
        {
            UnlinkAt(directory, name);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }
}

/// <summary>What <see cref="PosixFile.UnlinkThenZeroAt"/> did.</summary>
public enum UnlinkOutcome
{
    /// <summary>The name did not exist (any more): nothing done.</summary>
    Gone,

    /// <summary>The name now refers to another file than the one looked at: left alone.</summary>
    NotSameFile,

    /// <summary>The file has more than one name (a hard link): left alone, never written to.</summary>
    HasOtherLinks,

    /// <summary>The name was removed; nothing was written (not a regular file, not writable, or a
    /// name elsewhere appeared meanwhile).</summary>
    Removed,

    /// <summary>The name was removed, then the content zeroed through the descriptor.</summary>
    RemovedAndZeroed,
}
