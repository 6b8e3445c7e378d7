using System.Globalization;
using System.Text;
using LuksVirt.Interop.Libc;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.Logging;

public enum LogLevel
{
    Error = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
}

/// <summary>
/// Every step, with a UTC timestamp, to the log file and to stderr (stdout stays free for
/// reports and --json). Under systemd (JOURNAL_STREAM set) stderr lines carry syslog priority
/// prefixes so the journal keeps the levels. Callers never pass key material; messages are
/// names, paths, slots and outcomes only.
/// </summary>
/// <remarks>
/// The log file is opened as the state file is: never through a symbolic link at its last
/// component (O_NOFOLLOW), never blocking (O_NONBLOCK), a regular file only, owned by the user
/// LuksVirt runs as and readable by no one else than its group (0600 or 0640). A path that breaks
/// one of these is refused (<see cref="Refusal"/>): the commands that change the host then stop
/// before touching anything. A write that fails (a full file system) never stops a run: it is
/// counted, and <see cref="WriteFailureSummary"/> tells the command what to report once.
/// </remarks>
public sealed class ActivityLog : IDisposable
{
    /// <summary>The last guard against unbounded text: every value in a message is bounded where
    /// it is made (<see cref="EchoText"/>); a message longer than this is cut all the same.</summary>
    public const int MaxMessageChars = 8192;

    private const UnixFileMode CreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;   // 0600

    // Group write or execute, anything for others: 0600 and 0640 pass, 0644 does not.
    private const uint ForbiddenPermissions = 0b000_011_111;   // 0037

    private readonly object _gate = new();
    private readonly SafeFileHandle? _file;
    private readonly string? _filePath;
    private readonly TextWriter? _console;
    private readonly bool _journalPrefixes;
    private readonly List<string> _fileErrors = [];
    private int _failedWrites;
    private string? _firstWriteError;

    /// <param name="filePath">Log file (appended, created 0600), or null for none.</param>
    /// <param name="console">Where human-readable lines go (stderr), or null to stay quiet.</param>
    public ActivityLog(string? filePath, TextWriter? console)
    {
        _console = console;
        _journalPrefixes = Environment.GetEnvironmentVariable("JOURNAL_STREAM") is not null;
        if (filePath is null)
        {
            return;
        }

        // Messages name the file the way the kernel sees it, whatever the working directory.
        filePath = Path.GetFullPath(filePath);
        _filePath = filePath;
        try
        {
            _file = OpenLogFile(filePath);
        }
        catch (LogFileRefusedException e)
        {
            Refusal = e.Message;
            _fileErrors.Add(e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not unsafe, only unwritable (a read-only or full file system): the run goes on
            // logging to stderr, and the command says so.
            _fileErrors.Add($"cannot write log file {EchoText.OfPath(filePath)}: {EchoText.OfPath(e.Message)}");
        }
    }

    /// <summary>Problems opening the log file (a refusal included), for the report.</summary>
    public IReadOnlyList<string> FileErrors => _fileErrors;

    /// <summary>Why the log file path is refused as unsafe (a symbolic link, not a regular file,
    /// another owner, readable or writable by others), naming the fix; null when it is not.</summary>
    public string? Refusal { get; }

    /// <summary>Lines that did not reach the log file after it was opened.</summary>
    public int FailedWrites
    {
        get
        {
            lock (_gate)
            {
                return _failedWrites;
            }
        }
    }

    /// <summary>One sentence for the end of a command when lines were lost, with the first
    /// error; null when every line reached the file.</summary>
    public string? WriteFailureSummary
    {
        get
        {
            lock (_gate)
            {
                return _failedWrites == 0
                    ? null
                    : string.Create(CultureInfo.InvariantCulture,
                        $"{_failedWrites} line(s) could not be written to the log file {EchoText.OfPath(_filePath!)} ({_firstWriteError}); they were shown on stderr only");
            }
        }
    }

    public void Info(string message) => Write(LogLevel.Info, message);

    public void Notice(string message) => Write(LogLevel.Notice, message);

    public void Warning(string message) => Write(LogLevel.Warning, message);

    public void Error(string message) => Write(LogLevel.Error, message);

    public void Write(LogLevel level, string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Length > MaxMessageChars)
        {
            message = message[..MaxMessageChars] + "…";
        }

        var stamp = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var label = level switch
        {
            LogLevel.Error => "error",
            LogLevel.Warning => "warning",
            LogLevel.Notice => "notice",
            _ => "info",
        };
        lock (_gate)
        {
            if (_file is not null)
            {
                AppendToFile($"{stamp} luksvirt[{Environment.ProcessId}] {label}: {message}\n");
            }

            if (_console is not null)
            {
                _console.WriteLine(_journalPrefixes ? $"<{(int)level}>{message}" : $"{label}: {message}");
            }
        }
    }

    public void Dispose() => _file?.Dispose();

    private void AppendToFile(string line)
    {
        try
        {
            // One write(2) per line on an O_APPEND descriptor: lines of concurrent runs never interleave.
            RegularFile.Append(_file!, Encoding.UTF8.GetBytes(line), _filePath!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _failedWrites++;
            _firstWriteError ??= e.Message;
        }
    }

    private static SafeFileHandle OpenLogFile(string filePath)
    {
        var directory = Path.GetDirectoryName(filePath);
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        SafeFileHandle file;
        PosixFileStatus status;
        try
        {
            file = RegularFile.OpenForAppending(filePath, CreateMode, out status);
        }
        catch (SymbolicLinkRefusedException e)
        {
            throw new LogFileRefusedException($"log file {EchoText.OfPath(e.Path)} is a symbolic link; LuksVirt does not follow symbolic links here; name the real file with --log, or remove the link");
        }
        catch (NotRegularFileException e)
        {
            throw new LogFileRefusedException($"log file {EchoText.OfPath(e.Path)} is {NotRegularFileException.Describe(e.Type)}, not a regular file; name a regular file with --log");
        }

        var shown = EchoText.OfPath(filePath);
        try
        {
            var user = RegularFile.EffectiveUserId;
            if (status.Uid != user)
            {
                throw new LogFileRefusedException(string.Create(CultureInfo.InvariantCulture,
                    $"log file {shown} is owned by uid {status.Uid}, not by uid {user} that runs luksvirt; fix: chown {user} {shown}, or name another file with --log"));
            }

            if ((status.Mode & ForbiddenPermissions) != 0)
            {
                throw new LogFileRefusedException(
                    $"log file {shown} is open to others (mode {Convert.ToString(status.Mode & 0xFFF, 8)}); fix: chmod 0600 {shown} (0640 lets its group read it)");
            }

            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The log path is unsafe to write; the message names the fix.</summary>
    private sealed class LogFileRefusedException(string message) : Exception(message);
}
