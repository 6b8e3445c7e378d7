using System.Globalization;

namespace LuksVirt.Interop.Secrets;

/// <summary>
/// How this process keeps keys, found by allocating one (not by guessing from the kernel
/// version), and how much it may lock: what <c>luksvirt doctor</c> reports.
/// </summary>
/// <param name="Kind">The kind of memory a new <see cref="SecretBuffer"/> gets.</param>
/// <param name="LockLimitBytes">The soft RLIMIT_MEMLOCK; null when unlimited.</param>
/// <param name="ExemptFromLockLimit">CAP_IPC_LOCK is effective: the limit does not apply.</param>
/// <param name="LockedBytes">Memory this process has locked now (VmLck).</param>
public sealed record SecretMemoryStatus(SecretMemoryKind Kind, ulong? LockLimitBytes, bool ExemptFromLockLimit, ulong LockedBytes)
{
    // linux/capability.h
    private const int CapIpcLock = 14;

    public static SecretMemoryStatus Probe()
    {
        SecretMemoryKind kind;
        using (var probe = SecretBuffer.Allocate(1))
        {
            kind = probe.MemoryKind;
        }

        if (Interop.Libc.Getrlimit(Interop.Libc.RLIMIT_MEMLOCK, out var limit) != 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("getrlimit(RLIMIT_MEMLOCK)", null);
        }

        var status = File.ReadAllLines("/proc/self/status");
        var effective = ulong.Parse(Field(status, "CapEff:"), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        var lockedKiB = ulong.Parse(Field(status, "VmLck:").Split(' ')[0], CultureInfo.InvariantCulture);
        return new SecretMemoryStatus(
            kind,
            limit.Current == Interop.Libc.RlimInfinity ? null : limit.Current,
            (effective & (1UL << CapIpcLock)) != 0,
            lockedKiB * 1024);
    }

    private static string Field(string[] status, string name) =>
        status.Single(l => l.StartsWith(name, StringComparison.Ordinal))[name.Length..].Trim();
}
