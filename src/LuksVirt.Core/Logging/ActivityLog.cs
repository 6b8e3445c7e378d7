using System.Globalization;
using System.Text;

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
public sealed class ActivityLog : IDisposable
{
    private readonly object _gate = new();
    private readonly StreamWriter? _file;
    private readonly TextWriter? _console;
    private readonly bool _journalPrefixes;
    private readonly List<string> _fileErrors = [];

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

        try
        {
            var directory = Path.GetDirectoryName(Path.GetFullPath(filePath));
            if (directory is not null)
            {
                Directory.CreateDirectory(directory);
            }

            var options = new FileStreamOptions
            {
                Mode = FileMode.Append,
                Access = FileAccess.Write,
                Share = FileShare.ReadWrite,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            _file = new StreamWriter(filePath, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), options) { AutoFlush = true };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The run goes on without a file log; the report says so instead of failing the unlock.
            _fileErrors.Add($"cannot write log file {filePath}: {e.Message}");
        }
    }

    /// <summary>Problems opening the log file, for the report.</summary>
    public IReadOnlyList<string> FileErrors => _fileErrors;

    public void Info(string message) => Write(LogLevel.Info, message);

    public void Notice(string message) => Write(LogLevel.Notice, message);

    public void Warning(string message) => Write(LogLevel.Warning, message);

    public void Error(string message) => Write(LogLevel.Error, message);

    public void Write(LogLevel level, string message)
    {
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
            _file?.WriteLine($"{stamp} luksvirt[{Environment.ProcessId}] {label}: {message}");
            if (_console is not null)
            {
                _console.WriteLine(_journalPrefixes ? $"<{(int)level}>{message}" : $"{label}: {message}");
            }
        }
    }

    public void Dispose() => _file?.Dispose();
}
