using LuksVirt.Core.Headers;
#if LUKSVIRT_FAULT_INJECTION
using LuksVirt.Core.FaultInjection;
#endif

namespace LuksVirt.Cli;

/// <summary>
/// The test hooks the commands pass on: in the tests' fault-injection build
/// (<c>-p:LuksVirtFaultInjection=true</c>) read from the environment, in every other build
/// (the one administrators install) always null, with the hook code not even compiled in.
/// </summary>
internal static class FaultInjectionHooks
{
    /// <summary>For key slot and header changes (crash or fail after a named step).</summary>
    public static Action<HeaderChangeStep>? HeaderSteps() =>
#if LUKSVIRT_FAULT_INJECTION
        TestFaultHook.FromEnvironment();
#else
        null;
#endif

    /// <summary>For encrypt-vm's payload writes (crash after N bytes).</summary>
    public static Action<long>? PayloadWrites() =>
#if LUKSVIRT_FAULT_INJECTION
        MigrationFaultInjection.FromEnvironment();
#else
        null;
#endif
}
