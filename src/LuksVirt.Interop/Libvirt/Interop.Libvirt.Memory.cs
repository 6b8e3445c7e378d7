using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libvirt
    {
        /// <summary>Copies a string libvirt keeps owning (names, static type strings).</summary>
        internal static string? CopyBorrowedString(nint utf8) => Marshal.PtrToStringUTF8(utf8);

        /// <summary>Copies a string the caller must free (XML, URI), then frees it.</summary>
        internal static string? TakeOwnedString(nint utf8)
        {
            if (utf8 == 0)
            {
                return null;
            }

            try
            {
                return Marshal.PtrToStringUTF8(utf8);
            }
            finally
            {
                Libc.Free(utf8);
            }
        }

        /// <summary>VIR_UUID_STRING_BUFLEN: 36 characters and the NUL.</summary>
        internal const int UuidStringBufferLength = 37;

        internal static Guid ParseUuid(ReadOnlySpan<byte> buffer)
        {
            var text = System.Text.Encoding.ASCII.GetString(buffer[..(UuidStringBufferLength - 1)]);
            return Guid.ParseExact(text, "D");
        }

        /// <summary>libvirt's UUID text form (lower-case 8-4-4-4-12, the same as Guid's "D").</summary>
        internal static string FormatUuid(Guid uuid) => uuid.ToString("D", System.Globalization.CultureInfo.InvariantCulture);
    }
}
