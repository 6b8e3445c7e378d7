using System.Runtime.InteropServices;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Cryptsetup
    {
        /// <summary>crypt_token_info: CRYPT_TOKEN_INVALID, CRYPT_TOKEN_INACTIVE; higher values are in use.</summary>
        internal const int TokenInvalid = 0;
        internal const int TokenInactive = 1;

        /// <summary>The JSON stays owned by the context (valid until its next call).</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_token_json_get")]
        internal static partial int TokenJsonGet(SafeCryptDeviceHandle cd, int token, out nint json);

        /// <summary>A NULL <paramref name="json"/> removes the token. Returns the token number.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_token_json_set", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int TokenJsonSet(SafeCryptDeviceHandle cd, int token, string? json);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_token_status")]
        internal static partial int TokenStatus(SafeCryptDeviceHandle cd, int token, nint type);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_token_assign_keyslot")]
        internal static partial int TokenAssignKeyslot(SafeCryptDeviceHandle cd, int token, int keyslot);
    }
}
