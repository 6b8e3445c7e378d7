namespace LuksVirt.Core.Files;

/// <summary>
/// Replaces a file in one step, so that a reader (the next run, node_exporter) sees the old
/// content or the new one, never a part: a fresh temporary file in the same directory (so that
/// rename(2) is atomic), created with O_EXCL (nothing planted there, a symlink or an old file, is
/// ever written through), flushed to disk, then renamed over the path (rename replaces a
/// symbolic link at the path instead of following it).
/// </summary>
internal static class AtomicFile
{
    public static void Replace(string path, ReadOnlySpan<byte> content, UnixFileMode mode)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        var renamed = false;
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                UnixCreateMode = mode,
            };
            using (var stream = new FileStream(temporary, options))
            {
                // The umask may have taken bits away from the mode asked for (0644 for a file
                // node_exporter, another user, must read).
                File.SetUnixFileMode(stream.SafeFileHandle, mode);
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            renamed = true;
        }
        finally
        {
            if (!renamed)
            {
                File.Delete(temporary);
            }
        }
    }
}
