namespace LuksVirt.Libc;

/// <summary>Process-wide protections while key bytes are in memory.</summary>
public static class ProcessHardening
{
    /// <summary>prctl(PR_SET_DUMPABLE, 0): no core dumps, no ptrace by non-root, /proc/PID owned by root.</summary>
    public static void DisableDumping() => throw new NotImplementedException();

    /// <summary>prctl(PR_GET_DUMPABLE).</summary>
    public static bool IsDumpable => throw new NotImplementedException();
}
