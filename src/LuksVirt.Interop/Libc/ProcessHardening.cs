namespace LuksVirt.Interop.Libc;

/// <summary>Process-wide protections while key bytes are in memory.</summary>
public static class ProcessHardening
{
    private static volatile bool s_dumpingDisabled;

    /// <summary>
    /// prctl(PR_SET_DUMPABLE, 0): no core dumps, no ptrace by non-root, /proc/PID owned by root;
    /// and RLIMIT_CORE 0 (soft and hard), so no core file is written even where fs.suid_dumpable=2
    /// would dump a non-dumpable process for root. Both stay for the life of the process (an exec
    /// of a setuid program aside). Key pages are left out of core dumps besides (MADV_DONTDUMP or
    /// secret memory); this covers every other copy, such as libvirt's and libcryptsetup's.
    /// </summary>
    public static void DisableDumping()
    {
        if (Interop.Libc.Prctl(Interop.Libc.PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("prctl(PR_SET_DUMPABLE)", null);
        }

        var none = new Interop.Libc.Rlimit { Current = 0, Maximum = 0 };
        if (Interop.Libc.Setrlimit(Interop.Libc.RLIMIT_CORE, none) != 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("setrlimit(RLIMIT_CORE)", null);
        }

        s_dumpingDisabled = true;
    }

    /// <summary><see cref="DisableDumping"/>, unless this process did it already: what every
    /// allocation of key memory calls first.</summary>
    public static void DisableDumpingOnce()
    {
        if (!s_dumpingDisabled)
        {
            DisableDumping();
        }
    }

    /// <summary>prctl(PR_GET_DUMPABLE).</summary>
    public static bool IsDumpable
    {
        get
        {
            var result = Interop.Libc.Prctl(Interop.Libc.PR_GET_DUMPABLE, 0, 0, 0, 0);
            return result < 0 ? throw Interop.Libc.CreateExceptionForLastErrno("prctl(PR_GET_DUMPABLE)", null) : result != 0;
        }
    }

    /// <summary>The soft RLIMIT_CORE in bytes (0: no core file is written).</summary>
    public static ulong CoreFileLimit =>
        Interop.Libc.Getrlimit(Interop.Libc.RLIMIT_CORE, out var limit) == 0
            ? limit.Current
            : throw Interop.Libc.CreateExceptionForLastErrno("getrlimit(RLIMIT_CORE)", null);
}
