using System.Runtime.InteropServices;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    /// <summary>Raw libcryptsetup signatures (/usr/include/libcryptsetup.h, 2.6). Every int result is
    /// 0 or a count on success and a negated errno on failure; libcryptsetup reports through its
    /// return value, not errno, so none of these needs SetLastError.</summary>
    internal static partial class Cryptsetup
    {
        /// <summary>CRYPT_LUKS1 / CRYPT_LUKS2 type names (NULL, CRYPT_LUKS, means "any LUKS").</summary>
        internal const string TypeLuks1 = "LUKS1";
        internal const string TypeLuks2 = "LUKS2";

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_init", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int Init(out SafeCryptDeviceHandle cd, string device);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_init_by_name", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int InitByName(out SafeCryptDeviceHandle cd, string name);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_free")]
        internal static partial void Free(nint cd);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_load", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int Load(SafeCryptDeviceHandle cd, string? requestedType, nint parameters);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_format", StringMarshalling = StringMarshalling.Utf8)]
        internal static unsafe partial int Format(
            SafeCryptDeviceHandle cd,
            string type,
            string cipher,
            string cipherMode,
            string? uuid,
            byte* volumeKey,
            nuint volumeKeySize,
            void* parameters);

        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_set_pbkdf_type")]
        internal static unsafe partial int SetPbkdfType(SafeCryptDeviceHandle cd, CryptPbkdfType* pbkdf);

        /// <summary>Library defaults for one PBKDF ("pbkdf2", "argon2id"...): memory, threads, time.
        /// Returns a pointer to a static struct owned by the library, or NULL.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_get_pbkdf_type_params", StringMarshalling = StringMarshalling.Utf8)]
        internal static unsafe partial CryptPbkdfType* GetPbkdfTypeParams(string pbkdfType);

        /// <summary>With a NULL device this sets the process-wide default log function, which
        /// libcryptsetup also uses for every context that has no callback of its own.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_set_log_callback")]
        internal static unsafe partial void SetLogCallback(
            nint cd,
            delegate* unmanaged[Cdecl]<int, byte*, void*, void> log,
            void* userPointer);

        /// <summary>CRYPT_DEBUG_NONE and CRYPT_DEBUG_ALL (without the JSON dumps of CRYPT_DEBUG_JSON).</summary>
        internal const int DebugNone = 0;
        internal const int DebugAll = -1;

        /// <summary>Process-wide: every context on every thread logs at this level from then on.</summary>
        [LibraryImport(Libraries.Cryptsetup, EntryPoint = "crypt_set_debug_level")]
        internal static partial void SetDebugLevel(int level);
    }
}
