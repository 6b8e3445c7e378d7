using System.Diagnostics;
using System.Globalization;

namespace LuksVirt.Core.Migration;

/// <summary>
/// TEST ONLY: <c>LUKSVIRT_TEST_KILL_AFTER_BYTES=N</c> makes <c>encrypt-vm</c> kill itself with
/// SIGKILL once N payload bytes have been encrypted and written, so tests can prove that a
/// migration killed mid-copy leaves source and domain untouched and that a rerun succeeds. It
/// carries no secret and changes nothing else; never set it in production.
/// </summary>
public sealed class MigrationFaultInjection
{
    public const string KillAfterBytesVariable = "LUKSVIRT_TEST_KILL_AFTER_BYTES";

    private readonly long? _killAfterBytes;
    private long _written;

    private MigrationFaultInjection(long? killAfterBytes) => _killAfterBytes = killAfterBytes;

    public static MigrationFaultInjection FromEnvironment() =>
        new(long.TryParse(Environment.GetEnvironmentVariable(KillAfterBytesVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) ? bytes : null);

    /// <summary>Called with every chunk written; never returns once the limit is passed.</summary>
    public void AfterWrite(long bytes)
    {
        if (_killAfterBytes is { } limit && Interlocked.Add(ref _written, bytes) >= limit)
        {
            using var self = Process.GetCurrentProcess();
            self.Kill(); // SIGKILL: no finally block, no cleanup, exactly like a power cut of the process
        }
    }
}
