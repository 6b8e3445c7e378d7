namespace LuksVirt.Libc;

/// <summary>Process-wide protections while key bytes are in memory.</summary>
public static class ProcessHardening
{
    /// <summary>prctl(PR_SET_DUMPABLE, 0): no core dumps, no ptrace by non-root, /proc/PID owned by root.
    /// It stays off for the life of the process (an exec of a setuid program aside).</summary>
    public static void DisableDumping()
    {
        if (Interop.Libc.Prctl(Interop.Libc.PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        {
            throw Interop.Libc.CreateExceptionForLastErrno("prctl(PR_SET_DUMPABLE)", null);
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
}
