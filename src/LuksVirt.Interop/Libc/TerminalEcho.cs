using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop.Libc;

/// <summary>
/// A terminal with echo turned off (the newline still shows) until disposed, which puts the
/// terminal's settings back as they were: for typing a passphrase.
/// </summary>
public sealed class TerminalEcho : IDisposable
{
    private readonly SafeFileHandle _terminal;
    private readonly Interop.Libc.Termios _saved;
    private bool _restored;

    private TerminalEcho(SafeFileHandle terminal, Interop.Libc.Termios saved)
    {
        _terminal = terminal;
        _saved = saved;
    }

    /// <summary>Turns echo off on <paramref name="terminal"/>; throws <see cref="IOException"/>
    /// when it is not a terminal.</summary>
    public static TerminalEcho Off(SafeFileHandle terminal)
    {
        ArgumentNullException.ThrowIfNull(terminal);
        if (Interop.Libc.TcGetAttr(terminal, out var saved) != 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("tcgetattr", "the terminal");
        }

        var quiet = saved;
        quiet.LocalFlags = (quiet.LocalFlags & ~Interop.Libc.ECHO) | Interop.Libc.ECHONL;
        if (Interop.Libc.TcSetAttr(terminal, Interop.Libc.TCSAFLUSH, in quiet) != 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("tcsetattr", "the terminal");
        }

        return new TerminalEcho(terminal, saved);
    }

    /// <summary>Whether <paramref name="terminal"/> echoes what is typed (for tests and checks).</summary>
    public static bool IsOn(SafeFileHandle terminal)
    {
        ArgumentNullException.ThrowIfNull(terminal);
        return Interop.Libc.TcGetAttr(terminal, out var current) != 0
            ? throw Interop.Libc.CreateExceptionForLastErrno("tcgetattr", "the terminal")
            : (current.LocalFlags & Interop.Libc.ECHO) != 0;
    }

    public void Dispose()
    {
        if (!_restored)
        {
            _restored = true;
            _ = Interop.Libc.TcSetAttr(_terminal, Interop.Libc.TCSAFLUSH, in _saved);
        }
    }
}
