// Compiled only into the tests' fault-injection build (-p:LuksVirtFaultInjection=true, see
// Directory.Build.props): the program that administrators build or install has no environment
// variable that makes it kill itself or fail on purpose.
#if LUKSVIRT_FAULT_INJECTION
using System.Diagnostics;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Headers;

namespace LuksVirt.Core.FaultInjection;

/// <summary>
/// FAULT-INJECTION BUILD ONLY: fault injection into key slot and header changes, driven by environment
/// variables so that the test suite can break the real program at a chosen step:
/// <list type="bullet">
/// <item><c>LUKSVIRT_TEST_CRASH_AFTER=STEP</c>: the process kills itself with SIGKILL right after
/// STEP (no rollback, no cleanup runs: a power cut at that point).</item>
/// <item><c>LUKSVIRT_TEST_FAIL_AFTER=STEP</c>: STEP is reported as failed right after it ran, so the
/// verified rollback runs.</item>
/// </list>
/// STEP is a name from <see cref="HeaderChangeSteps.NameOf"/> ("add-key", "destroy-slot"...). Neither
/// variable carries anything secret, and neither can make a change weaker: the crash points are
/// exactly the ones the design already has to survive.
/// </summary>
public static class TestFaultHook
{
    public const string CrashAfterVariable = "LUKSVIRT_TEST_CRASH_AFTER";
    public const string FailAfterVariable = "LUKSVIRT_TEST_FAIL_AFTER";

    /// <summary>The hook the environment asks for, or null (the normal case).</summary>
    public static Action<HeaderChangeStep>? FromEnvironment()
    {
        var crashAfter = Parse(CrashAfterVariable);
        var failAfter = Parse(FailAfterVariable);
        if (crashAfter is null && failAfter is null)
        {
            return null;
        }

        return step =>
        {
            if (step == crashAfter)
            {
                // Process.Kill is kill(getpid(), SIGKILL): nothing after this line runs.
                using var self = Process.GetCurrentProcess();
                self.Kill();
                Thread.Sleep(Timeout.Infinite);
            }

            if (step == failAfter)
            {
                throw new SimulatedFailureException($"simulated failure after step {HeaderChangeSteps.NameOf(step)} ({FailAfterVariable}, a test hook)");
            }
        };
    }

    private static HeaderChangeStep? Parse(string variable)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        return HeaderChangeSteps.TryParse(value, out var step)
            ? step
            : throw new ContainerRefusedException($"{variable}={value}: unknown step; expected one of {string.Join(", ", Enum.GetValues<HeaderChangeStep>().Select(HeaderChangeSteps.NameOf))}");
    }
}
#endif
