using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>c_lflag ECHO: the terminal shows what is typed.</summary>
        internal const uint ECHO = 0x8;

        /// <summary>c_lflag ECHONL: the newline is shown even with ECHO off.</summary>
        internal const uint ECHONL = 0x40;

        /// <summary>tcsetattr: apply after the output drains, discarding input not yet read.</summary>
        internal const int TCSAFLUSH = 2;

        /// <summary>glibc's struct termios on Linux (60 bytes): the flags, the line discipline,
        /// NCCS = 32 control characters, and the two speeds.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct Termios
        {
            internal uint InputFlags;
            internal uint OutputFlags;
            internal uint ControlFlags;
            internal uint LocalFlags;
            internal byte LineDiscipline;
            internal fixed byte ControlCharacters[32];
            internal uint InputSpeed;
            internal uint OutputSpeed;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "tcgetattr", SetLastError = true)]
        internal static partial int TcGetAttr(SafeFileHandle fd, out Termios termios);

        [LibraryImport(Libraries.Libc, EntryPoint = "tcsetattr", SetLastError = true)]
        internal static partial int TcSetAttr(SafeFileHandle fd, int optionalActions, in Termios termios);
    }
}
