namespace LuksVirt.Interop.Secrets;

/// <summary>How the kernel keeps the pages of one secret. Every kind leaves them out of core
/// dumps and puts PROT_NONE guard pages on both sides.</summary>
public enum SecretMemoryKind
{
    /// <summary>memfd_secret (Linux 5.14+): locked, and removed from the kernel's direct map, so
    /// not even root can read them through /proc/PID/mem or ptrace.</summary>
    SecretMemory,

    /// <summary>Anonymous pages locked with mlock: they never reach swap.</summary>
    LockedPages,

    /// <summary>Anonymous pages the kernel would not lock (RLIMIT_MEMLOCK without CAP_IPC_LOCK):
    /// the secret still works, but may be written to swap.</summary>
    UnlockedPages,
}
