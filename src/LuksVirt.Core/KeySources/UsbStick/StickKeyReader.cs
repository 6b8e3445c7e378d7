using System.Globalization;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Usb;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.KeySources.UsbStick;

/// <summary>
/// Reads the key files on a USB stick (or an image of one) for <see cref="UsbKeySource"/>, in
/// user space by <see cref="FatStick"/>: the stick is never mounted, so the kernel never parses
/// its file system, and nothing is ever written to it. Key files follow the key directory's naming
/// rules (<see cref="KeyFileName"/>) and size limit (<see cref="KeyFileReader.CheckSize"/>) and may
/// sit anywhere up to a depth limit below the root. Files whose names are equal apart from letter
/// case (anywhere on the stick) are one key when their contents are identical, and all refused as
/// a conflict when not (<see cref="SameNameKeyFiles"/>). Key bytes go from the device straight
/// into a <see cref="SecretBuffer"/>.
/// </summary>
internal static class StickKeyReader
{
    /// <summary>
    /// Opens <paramref name="devicePath"/> (a block device or an image file) without following a
    /// symbolic link and without blocking, checks what it is, and reads its key files. Throws
    /// <see cref="KeyDeviceException"/> when the path itself is refused,
    /// <see cref="FatFormatException"/> when it holds no readable FAT file system, and
    /// <see cref="IOException"/> when reading fails (a stick pulled mid-read): never a partial key.
    /// </summary>
    public static UsbKeyReadResult Read(string devicePath, int maxDepth = UsbKeySource.DefaultMaxDepth)
    {
        ArgumentException.ThrowIfNullOrEmpty(devicePath);
        CheckDepth(maxDepth);
        using var handle = OpenDevice(devicePath);
        using var device = FileBlockSource.Open(handle);
        return Read(device, devicePath, maxDepth);
    }

    /// <summary>Reads the key files of every FAT file system on <paramref name="device"/>
    /// (superfloppy, MBR primary and logical partitions, GPT; see <see cref="FatStick"/>);
    /// <paramref name="deviceName"/> names it in key sources and messages.</summary>
    public static UsbKeyReadResult Read(IBlockSource device, string deviceName, int maxDepth = UsbKeySource.DefaultMaxDepth)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentException.ThrowIfNullOrEmpty(deviceName);
        CheckDepth(maxDepth);

        var stick = FatStick.Open(device);
        // Sorted, so keys and reports come in the same order on every run.
        var files = stick.EnumerateFiles(maxDepth).OrderBy(e => e.Path, StringComparer.Ordinal).ToList();
        var rejected = new List<RejectedKeyFile>();
        var ignored = new List<string>();
        var ignoredNotListed = 0;
        var candidates = new List<(FatFileEntry Entry, string Holder, int? Slot)>();
        void AddIgnored(string description)
        {
            if (ignored.Count < UsbKeySource.MaxIgnoredListed)
            {
                ignored.Add(description);
            }
            else
            {
                ignoredNotListed++;
            }
        }

        foreach (var file in files)
        {
            var classified = KeyFileName.Classify(file.Name);
            switch (classified.Kind)
            {
                case KeyFileNameKind.NotAKeyFile:
                    AddIgnored(KeyFileName.Sanitize(file.Path));
                    break;
                case KeyFileNameKind.Refused:
                    rejected.Add(new RejectedKeyFile(KeyFileName.Sanitize(file.Path), classified.Reason!));
                    break;
                default:
                    candidates.Add((file, classified.Holder!, classified.SlotHint));
                    break;
            }
        }

        // A FAT stick ignores case, and a stick may carry one key in two folders (a backup copy):
        // names equal apart from letter case name one holder and slot (SameNameKeyFiles).
        var reads = new List<ReadKeyFile<FatFileEntry>>();
        SameNameResolution<FatFileEntry>? resolution = null;
        var keys = new List<PresentedKey>();
        try
        {
            foreach (var (entry, holder, slot) in candidates)
            {
                var path = KeyFileName.Sanitize(entry.Path);
                var key = TryReadKeyFile(stick, entry, path, out var reason);
                if (key is null)
                {
                    rejected.Add(new RejectedKeyFile(path, reason!));
                    continue;
                }

                reads.Add(new ReadKeyFile<FatFileEntry>(entry, entry.Name, FolderOf(entry.Path), path, holder, slot, key));
            }

            resolution = SameNameKeyFiles.Resolve(reads);
            reads.Clear();   // every key now belongs to the resolution's kept files, or is zeroed
            rejected.AddRange(resolution.Conflicts.Select(c => new RejectedKeyFile(c.File.DisplayPath, c.Reason)));
            foreach (var copy in resolution.Copies)
            {
                AddIgnored($"{copy.File.DisplayPath} (the same key as {copy.CopyOf}, used once)");
            }

            keys.AddRange(resolution.Kept.Select(k => new PresentedKey(k.Holder, k.Slot, $"{UsbKeySource.SourcePrefix}{deviceName}:{k.DisplayPath}", k.Key)));
        }
        catch
        {
            // The device failed under us (pulled out, I/O error): no key of this stick is used.
            reads.ForEach(r => r.Key.Dispose());
            resolution?.Kept.ForEach(r => r.Key.Dispose());
            throw;
        }

        return new UsbKeyReadResult(deviceName, new KeySet(keys), rejected, ignored, ignoredNotListed)
        {
            // Damaged entries and partitions passed over; their paths come from the stick.
            Skipped = [.. stick.Skipped.Select(s => s with { Where = KeyFileName.Sanitize(s.Where) })],
            SkippedNotListed = stick.SkippedNotListed,
        };
    }

    /// <summary>The folder part of a '/'-separated path from the stick's root ("" for the root).</summary>
    private static string FolderOf(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash < 0 ? string.Empty : path[..slash];
    }

    private static void CheckDepth(int maxDepth)
    {
        if (maxDepth < 0 || maxDepth > UsbKeySource.DeepestAllowed)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDepth), maxDepth,
                string.Create(CultureInfo.InvariantCulture, $"the key search depth must be 0 to {UsbKeySource.DeepestAllowed} directory levels"));
        }
    }

    /// <summary>The key of one allow-listed file, or null with the reason it was refused. A
    /// damaged file is refused alone; a failing device (any other I/O error) ends the whole read.</summary>
    private static SecretBuffer? TryReadKeyFile(FatStick stick, FatFileEntry entry, string path, out string? reason)
    {
        if (KeyFileReader.CheckSize(entry.Size) is { } refusal)
        {
            reason = refusal.Reason(path);
            return null;
        }

        try
        {
            reason = null;
            return stick.ReadFile(entry, SecretBuffer.MaxKeyLength);
        }
        catch (FatFormatException e)
        {
            // The reader's messages name structures and (validated) file names, never content.
            reason = new KeyFileRefusal(KeyFileProblem.Unreadable, Detail: e.Message).Reason(path);
            return null;
        }
    }

    private static SafeFileHandle OpenDevice(string path)
    {
        SafeFileHandle handle;
        PosixFileStatus status;
        try
        {
            // O_NONBLOCK: a FIFO at the path must not hang the open; fstat then refuses it.
            handle = PosixFile.OpenNoFollow(path, out status);
        }
        catch (FileNotFoundException e)
        {
            throw new KeyDeviceException(path, $"{path} does not exist (is the stick still plugged in?)", e);
        }
        catch (SymbolicLinkRefusedException e)
        {
            throw new KeyDeviceException(path, $"{path} is a symbolic link, which is not followed; name the device itself (readlink -f {path})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyDeviceException(path, $"cannot open {path}: {e.Message}", e);
        }

        if (status.Type is PosixFileType.BlockDevice or PosixFileType.Regular)
        {
            return handle;
        }

        handle.Dispose();
        throw new KeyDeviceException(path, $"{path} is neither a block device nor an image file");
    }
}
