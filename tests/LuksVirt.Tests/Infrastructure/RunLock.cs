using LuksVirt.Interop.Libc;

namespace LuksVirt.Tests.Infrastructure;

/// <summary>
/// The run lock every luksvirt run holds (/run/luksvirt/lock). A test that makes a secret of
/// LuksVirt's in its own process holds it while the secret must survive: a luksvirt run started
/// meanwhile (another test's unlock or watch) sweeps every secret of LuksVirt's it finds, since
/// under the lock any such secret is a leftover.
/// </summary>
public static class RunLock
{
    public const string Path = "/run/luksvirt/lock";

    public static FileLock Hold() => FileLock.Acquire(Path, TimeSpan.FromMinutes(3));
}
