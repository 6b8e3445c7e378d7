using System.Globalization;
using System.Text;
using LuksVirt.Core.Files;

namespace LuksVirt.Core.State;

/// <summary>
/// How <c>luksvirt lock</c>, another process, tells a running <c>watch</c> service that the host
/// was locked, so that the service wipes the quorum shares it keeps in memory: a file beside the
/// state file, replaced at every lock, whose directory the service watches (inotify). It holds
/// the time of the lock, nothing else.
/// </summary>
public static class LockNotice
{
    public const string FileName = "lock-notice";

    /// <summary>The file beside the state file <paramref name="statePath"/>.</summary>
    public static string PathBeside(string statePath) => StateDirectory.FileBeside(statePath, FileName);

    /// <summary>Says "the host was locked now" (replaced atomically, so a watcher sees one rename).
    /// Without the directory no service watches it (the service makes it): nothing is written.</summary>
    public static void Post(string path, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        if (!Directory.Exists(Path.GetDirectoryName(path)))
        {
            return;
        }

        var line = clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture) + "\n";
        AtomicFile.Replace(path, Encoding.UTF8.GetBytes(line),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }
}
