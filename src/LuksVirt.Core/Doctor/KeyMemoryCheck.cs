using System.Globalization;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Doctor;

/// <summary>
/// The "key memory" line of <c>luksvirt doctor</c>: which protection keys get in this process
/// (memfd_secret, mlock, or neither), and how much room RLIMIT_MEMLOCK leaves for them.
/// </summary>
internal static class KeyMemoryCheck
{
    public const string Name = "key memory";

    public static DoctorCheck Run() => Describe(SecretMemoryStatus.Probe());

    public static DoctorCheck Describe(SecretMemoryStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        return status.Kind switch
        {
            SecretMemoryKind.SecretMemory => new DoctorCheck(Name, CheckStatus.Ok,
                "memfd_secret: each key in secret memory of its own between guard pages (locked, left out of core dumps, "
                + $"unreadable even to root through /proc/PID/mem); {Headroom(status)}"),
            SecretMemoryKind.LockedPages => new DoctorCheck(Name, CheckStatus.Ok,
                "mlock: each key on locked pages of its own between guard pages, left out of core dumps; memfd_secret is not "
                + $"offered here (it needs Linux 5.14 or later, and on some kernels the boot option secretmem.enable=1); {Headroom(status)}"),
            _ => new DoctorCheck(Name, CheckStatus.Warning,
                $"keys are NOT locked into RAM: the kernel refused to lock a page ({Limit(status)}, no CAP_IPC_LOCK); keys still work, "
                + "on pages of their own between guard pages and left out of core dumps, but may be written to swap",
                "run luksvirt as root (CAP_IPC_LOCK), or raise the limit: LimitMEMLOCK=infinity in the service unit, ulimit -l unlimited in a shell"),
        };
    }

    private static string Headroom(SecretMemoryStatus status)
    {
        if (status.ExemptFromLockLimit)
        {
            return "CAP_IPC_LOCK: no limit on locked memory";
        }

        if (status.LockLimitBytes is not { } limit)
        {
            return "RLIMIT_MEMLOCK unlimited";
        }

        // A key takes its size in whole pages; in secret memory its two guard pages count too.
        var page = (ulong)Environment.SystemPageSize;
        var perShortKey = status.Kind == SecretMemoryKind.SecretMemory ? 3 * page : page;
        var free = limit > status.LockedBytes ? limit - status.LockedBytes : 0;
        var room = string.Create(CultureInfo.InvariantCulture,
            $"{Limit(status)}, {status.LockedBytes / 1024} KiB locked now: room for about {free / perShortKey} short keys ({perShortKey / 1024} KiB each)");
        return room + string.Create(CultureInfo.InvariantCulture,
            $"; a key that does not fit (key files may hold up to {SecretBuffer.MaxKeyLength / 1024} KiB) is held unlocked, and still works");
    }

    private static string Limit(SecretMemoryStatus status) => status.LockLimitBytes is { } limit
        ? string.Create(CultureInfo.InvariantCulture, $"RLIMIT_MEMLOCK {limit / 1024} KiB")
        : "RLIMIT_MEMLOCK unlimited";
}
