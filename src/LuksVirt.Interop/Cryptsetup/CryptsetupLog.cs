using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LuksVirt.Interop.Cryptsetup;

/// <summary>
/// Replaces libcryptsetup's default logger, which writes to stdout/stderr, with one that keeps
/// only the ERROR-level lines of the calling thread's current call, for the message of the
/// exception if that call fails. libcryptsetup logs synchronously on the thread that made the
/// call, so a thread-static slot attributes every line to the right call without any
/// per-device state. libcryptsetup never logs key material; NORMAL, VERBOSE and DEBUG lines
/// (which could describe a device in more detail than an exception needs) are dropped, except
/// the DEBUG lines of a call made through <see cref="CaptureDebugLines"/>.
/// </summary>
internal static unsafe class CryptsetupLog
{
    private const int CryptLogError = 1;
    private const int CryptLogDebug = -1;

    // A header load logs 20-40 debug lines; the cap only guards against a runaway loop.
    private const int MaxDebugLines = 200;

    // crypt_set_debug_level is process-wide: one capture at a time, so that one capture ending
    // cannot turn debugging off under another.
    private static readonly Lock DebugCapture = new();

    [ThreadStatic]
    private static List<string>? t_debugLines;

    // A failing call logs one to three lines; the cap only guards against a runaway loop.
    private const int MaxKeptChars = 1024;

    [ThreadStatic]
    private static string? t_errors;

    // An explicit static constructor (not beforefieldinit) runs before the first BeginCall, so
    // the logger is in place before any libcryptsetup call that goes through here. With a NULL
    // device it becomes the default for every context; it stays for the process's lifetime.
    static CryptsetupLog() => Interop.Cryptsetup.SetLogCallback(0, &OnLog, null);

    /// <summary>Call right before each libcryptsetup function: forgets lines of earlier calls.</summary>
    internal static void BeginCall() => t_errors = null;

    /// <summary>The ERROR lines logged on this thread since <see cref="BeginCall"/>, or null.</summary>
    internal static string? TakeErrors()
    {
        var errors = t_errors;
        t_errors = null;
        return errors;
    }

    /// <summary>
    /// Runs <paramref name="call"/> (libcryptsetup calls without any key) with libcryptsetup's
    /// debug logging on and returns the DEBUG lines it logged on this thread. Only for diagnosing
    /// a failure that the ERROR lines do not explain (a LUKS2 checksum or JSON error is logged
    /// at DEBUG level only). While it runs, other threads' libcryptsetup calls log DEBUG lines
    /// too; <see cref="OnLog"/> drops those, as no capture is open on their thread.
    /// </summary>
    internal static IReadOnlyList<string> CaptureDebugLines(Action call)
    {
        lock (DebugCapture)
        {
            var lines = new List<string>();
            t_debugLines = lines;
            Interop.Cryptsetup.SetDebugLevel(Interop.Cryptsetup.DebugAll);
            try
            {
                call();
            }
            finally
            {
                Interop.Cryptsetup.SetDebugLevel(Interop.Cryptsetup.DebugNone);
                t_debugLines = null;
            }

            return lines;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLog(int level, byte* message, void* userPointer)
    {
        // Must not throw into C: a plain copy of a valid C string cannot; bad UTF-8 becomes U+FFFD.
        if (message == null)
        {
            return;
        }

        if (level == CryptLogDebug && t_debugLines is { } debugLines)
        {
            if (debugLines.Count < MaxDebugLines && Marshal.PtrToStringUTF8((nint)message)?.Trim() is { Length: > 0 } debugLine)
            {
                debugLines.Add(debugLine);
            }

            return;
        }

        if (level != CryptLogError)
        {
            return;
        }

        var line = Marshal.PtrToStringUTF8((nint)message)?.Trim();
        if (string.IsNullOrEmpty(line))
        {
            return;
        }

        var kept = t_errors;
        if (kept is null)
        {
            t_errors = line;
        }
        else if (kept.Length + line.Length < MaxKeptChars)
        {
            t_errors = $"{kept} {line}";
        }
    }
}
