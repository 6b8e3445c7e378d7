using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop.Libc;

/// <summary>
/// The process holding a flock(2), as the kernel's own record, /proc/locks, names it (a PID
/// written into the lock file would outlive a killed holder). Its command comes from
/// /proc/PID/cmdline, which that process chose: it is cut short and made printable before it is
/// ever shown.
/// </summary>
/// <param name="Command">The command line, printable and at most <see cref="MaxCommandChars"/>
/// characters plus an ellipsis; "?" when the process was gone before it could be read.</param>
public sealed record LockHolder(int Pid, string Command)
{
    public const int MaxCommandChars = 80;

    private const string ProcLocks = "/proc/locks";

    /// <summary>"PID 1234 (luksvirt unlock --keys ...)".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"PID {Pid} ({Command})");

    /// <summary>The holder of the flock on <paramref name="lockFile"/>'s inode, or null when
    /// /proc/locks names none (released meanwhile, or held from another PID namespace).</summary>
    internal static LockHolder? Find(SafeFileHandle lockFile, string displayPath)
    {
        var status = Interop.Libc.FileStatus(lockFile, displayPath);
        int? pid;
        try
        {
            pid = FindFlockHolder(File.ReadLines(ProcLocks), status.DeviceMajor, status.DeviceMinor, status.Inode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;   // no /proc: the wait is still announced, without a name
        }

        return pid is { } found ? new LockHolder(found, ReadCommand(found)) : null;
    }

    /// <summary>
    /// The PID of the granted FLOCK on the inode, from /proc/locks lines such as
    /// <c>3: FLOCK  ADVISORY  WRITE 1234 fe:00:843947 0 EOF</c> (device major:minor in hex, inode
    /// in decimal). Waiters (<c>3: -&gt; FLOCK ...</c>) and POSIX or OFD locks are skipped.
    /// </summary>
    internal static int? FindFlockHolder(IEnumerable<string> procLocks, uint major, uint minor, ulong inode)
    {
        foreach (var line in procLocks)
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6 || fields[1] != "FLOCK")
            {
                continue;
            }

            var device = fields[5].Split(':');
            if (device.Length == 3 &&
                int.TryParse(fields[4], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0 &&
                uint.TryParse(device[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var lineMajor) && lineMajor == major &&
                uint.TryParse(device[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var lineMinor) && lineMinor == minor &&
                ulong.TryParse(device[2], NumberStyles.None, CultureInfo.InvariantCulture, out var lineInode) && lineInode == inode)
            {
                return pid;
            }
        }

        return null;
    }

    /// <summary>Arguments joined by spaces, control and format characters (escape sequences,
    /// bidi overrides) shown as '?', cut at <see cref="MaxCommandChars"/> characters; null when empty.</summary>
    internal static string? Printable(ReadOnlySpan<byte> cmdline)
    {
        var text = Encoding.UTF8.GetString(cmdline).TrimEnd('\0').Replace('\0', ' ');
        var printable = new StringBuilder(Math.Min(text.Length, MaxCommandChars + 1));
        foreach (var c in text)
        {
            if (printable.Length == MaxCommandChars)
            {
                return printable.Append('…').ToString();
            }

            printable.Append(IsShown(c) ? c : '?');
        }

        return printable.Length == 0 ? null : printable.ToString();
    }

    private static bool IsShown(char c) => CharUnicodeInfo.GetUnicodeCategory(c) is not
        (UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or
         UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.OtherNotAssigned);

    private static string ReadCommand(int pid)
    {
        // Bounded read: a command line can be megabytes long; the start is all that is shown.
        Span<byte> buffer = stackalloc byte[4 * MaxCommandChars];
        foreach (var file in new[] { "cmdline", "comm" })   // a kernel thread or zombie has no cmdline
        {
            try
            {
                using var handle = File.OpenHandle(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/{file}"));
                var length = RandomAccess.Read(handle, buffer, 0);
                if (Printable(buffer[..length].TrimEnd((byte)'\n')) is { } command)
                {
                    return command;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile: the PID alone is still worth showing.
            }
        }

        return "?";
    }
}
