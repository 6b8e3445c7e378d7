// Compiled only into the tests' fault-injection build (-p:LuksVirtFaultInjection=true, see
// Directory.Build.props): the program that administrators build or install has no environment
// variable that makes it kill itself.
#if LUKSVIRT_FAULT_INJECTION
using System.Diagnostics;
using System.Globalization;

namespace LuksVirt.Core.FaultInjection;

/// <summary>
/// FAULT-INJECTION BUILD ONLY: <c>LUKSVIRT_TEST_KILL_AFTER_BYTES=N</c> makes <c>encrypt-vm</c>
/// kill itself with SIGKILL once N payload bytes have been encrypted and written, so tests can
/// prove that a migration killed mid-copy leaves source and domain untouched and that a rerun
/// succeeds. It carries no secret and changes nothing else.
/// </summary>
public sealed class MigrationFaultInjection
{
    public const string KillAfterBytesVariable = "LUKSVIRT_TEST_KILL_AFTER_BYTES";

    private readonly long _killAfterBytes;
    private long _written;

    private MigrationFaultInjection(long killAfterBytes) => _killAfterBytes = killAfterBytes;

    /// <summary>The hook for <see cref="VmEncryptor"/>'s payload writes, or null when the variable is unset.</summary>
    public static Action<long>? FromEnvironment() =>
        long.TryParse(Environment.GetEnvironmentVariable(KillAfterBytesVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var bytes)
            ? new MigrationFaultInjection(bytes).AfterWrite
            : null;

    /// <summary>Called with every chunk written; never returns once the limit is passed.</summary>
    private void AfterWrite(long bytes)
    {
        if (Interlocked.Add(ref _written, bytes) >= _killAfterBytes)
        {
            using var self = Process.GetCurrentProcess();
            self.Kill(); // SIGKILL: no finally block, no cleanup, exactly like a power cut of the process
        }
    }
}
#endif
