using System.Runtime.InteropServices;
using LuksVirt.Interop.OpenSsl;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    /// <summary>
    /// Raw libcrypto (OpenSSL 3) elliptic-curve arithmetic, /usr/include/openssl/ec.h: the point
    /// operations Tang's McCallum-Relyea exchange needs (addition, inversion, multiplication of any
    /// point), which .NET's ECDiffieHellman does not expose. Calls return 1 on success and 0 on
    /// failure, with the reason on OpenSSL's thread-local error queue.
    /// </summary>
    internal static partial class OpenSsl
    {
        /// <summary>NIDs from openssl/obj_mac.h.</summary>
        internal const int NidPrime256V1 = 415;
        internal const int NidSecp384R1 = 715;
        internal const int NidSecp521R1 = 716;

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_GROUP_new_by_curve_name")]
        internal static partial SafeEcGroupHandle EcGroupNewByCurveName(int nid);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_GROUP_free")]
        internal static partial void EcGroupFree(nint group);

        /// <summary>The size of the field in bits (521 for P-521).</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_GROUP_get_degree")]
        internal static partial int EcGroupGetDegree(SafeEcGroupHandle group);

        /// <summary>Copies the order of the generator into <paramref name="order"/>.</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_GROUP_get_order")]
        internal static partial int EcGroupGetOrder(SafeEcGroupHandle group, SafeBigNumHandle order, SafeBigNumContextHandle context);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_POINT_new")]
        internal static partial SafeEcPointHandle EcPointNew(SafeEcGroupHandle group);

        /// <summary>Cleanses the coordinates before freeing: points here may be shared secrets.</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_POINT_clear_free")]
        internal static partial void EcPointClearFree(nint point);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_POINT_copy")]
        internal static partial int EcPointCopy(SafeEcPointHandle destination, SafeEcPointHandle source);

        /// <summary>EC_POINT_mul computes n * G + m * Q; this form passes only n (Q and m NULL).</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_POINT_mul")]
        internal static partial int EcPointMultiplyGenerator(SafeEcGroupHandle group, SafeEcPointHandle result, SafeBigNumHandle scalar, nint noPoint, nint noPointScalar, SafeBigNumContextHandle context);

        /// <summary>EC_POINT_mul computes n * G + m * Q; this form passes only Q and m (n NULL).</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_POINT_mul")]
        internal static partial int EcPointMultiplyPoint(SafeEcGroupHandle group, SafeEcPointHandle result, nint noGeneratorScalar, SafeEcPointHandle point, SafeBigNumHandle scalar, SafeBigNumContextHandle context);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_POINT_add")]
        internal static partial int EcPointAdd(SafeEcGroupHandle group, SafeEcPointHandle result, SafeEcPointHandle left, SafeEcPointHandle right, SafeBigNumContextHandle context);

        /// <summary>Negates <paramref name="point"/> in place.</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_POINT_invert")]
        internal static partial int EcPointInvert(SafeEcGroupHandle group, SafeEcPointHandle point, SafeBigNumContextHandle context);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_POINT_is_at_infinity")]
        internal static partial int EcPointIsAtInfinity(SafeEcGroupHandle group, SafeEcPointHandle point);

        /// <summary>1 on the curve, 0 not, -1 error.</summary>
        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_POINT_is_on_curve")]
        internal static partial int EcPointIsOnCurve(SafeEcGroupHandle group, SafeEcPointHandle point, SafeBigNumContextHandle context);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_POINT_set_affine_coordinates")]
        internal static partial int EcPointSetAffineCoordinates(SafeEcGroupHandle group, SafeEcPointHandle point, SafeBigNumHandle x, SafeBigNumHandle y, SafeBigNumContextHandle context);

        [LibraryImport(Libraries.LibCrypto, EntryPoint = "EC_POINT_get_affine_coordinates")]
        internal static partial int EcPointGetAffineCoordinates(SafeEcGroupHandle group, SafeEcPointHandle point, SafeBigNumHandle x, SafeBigNumHandle y, SafeBigNumContextHandle context);
    }
}
