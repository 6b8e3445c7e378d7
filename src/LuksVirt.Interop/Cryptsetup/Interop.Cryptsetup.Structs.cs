using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Cryptsetup
    {
        /// <summary>CRYPT_PBKDF_NO_BENCHMARK: use the given cost as is, never calibrate.</summary>
        internal const uint PbkdfNoBenchmark = 1u << 1;

        /// <summary>struct crypt_pbkdf_type. Strings are NUL-terminated UTF-8 the caller keeps alive.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct CryptPbkdfType
        {
            public byte* Type;
            public byte* Hash;
            public uint TimeMs;
            public uint Iterations;
            public uint MaxMemoryKb;
            public uint ParallelThreads;
            public uint Flags;
        }

        /// <summary>struct crypt_params_luks1.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct CryptParamsLuks1
        {
            public byte* Hash;
            public nuint DataAlignment;
            public byte* DataDevice;
        }

        /// <summary>struct crypt_params_luks2. Zero / NULL members mean the library's defaults.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct CryptParamsLuks2
        {
            public CryptPbkdfType* Pbkdf;
            public byte* Integrity;
            public void* IntegrityParams;
            public nuint DataAlignment;
            public byte* DataDevice;
            public uint SectorSize;
            public byte* Label;
            public byte* Subsystem;
        }
    }
}
