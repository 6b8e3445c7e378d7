using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.Containers;

/// <summary>Which backend and LUKS version a new container gets.</summary>
internal static class BackendSelection
{
    /// <summary><c>auto</c> (null): dmcrypt where the kernel has dm-crypt (far faster guest I/O),
    /// native elsewhere.</summary>
    public static DiskBackend Resolve(DiskBackend? requested) =>
        requested ?? (CryptDevice.IsDeviceMapperAvailable ? DiskBackend.DmCrypt : DiskBackend.Native);

    /// <summary>LUKS1 for native (QEMU 7.2-9.x open nothing else); LUKS2 for dmcrypt unless
    /// LUKS1 is asked for.</summary>
    public static LuksVersion LuksVersionFor(DiskBackend backend, bool luks1Requested) =>
        backend == DiskBackend.Native || luks1Requested ? LuksVersion.Luks1 : LuksVersion.Luks2;

    /// <summary>"native" / "dmcrypt", as the command line and the config file spell them.</summary>
    public static string Name(DiskBackend backend) => backend == DiskBackend.Native ? "native" : "dmcrypt";
}
