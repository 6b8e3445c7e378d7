namespace LuksVirt.Tests.Infrastructure;

/// <summary>
/// The fault-injection build of <c>luksvirt</c>: the same sources compiled with
/// LUKSVIRT_FAULT_INJECTION, which the test project builds into <c>fault-injection/</c> of its
/// output. Only this build obeys the variables below; the build administrators install has no
/// trace of them (see FaultHooksAbsenceTests). Runs framework-dependent (<c>dotnet luksvirt.dll</c>)
/// even when LUKSVIRT_BIN names the published binary.
/// </summary>
public static class FaultInjectionProgram
{
    /// <summary>Name of a key slot or header change step after which the process SIGKILLs itself.</summary>
    public const string CrashAfterVariable = "LUKSVIRT_TEST_CRASH_AFTER";

    /// <summary>Name of a step reported as failed right after it ran (the verified rollback runs).</summary>
    public const string FailAfterVariable = "LUKSVIRT_TEST_FAIL_AFTER";

    /// <summary>encrypt-vm SIGKILLs itself once this many payload bytes are written.</summary>
    public const string KillAfterBytesVariable = "LUKSVIRT_TEST_KILL_AFTER_BYTES";

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "fault-injection", "luksvirt.dll");

    /// <summary>The program and leading arguments, like <see cref="LuksVirtCli.Command"/>.</summary>
    public static (string File, IReadOnlyList<string> Prefix) Command()
    {
        if (!File.Exists(Dll))
        {
            throw new InvalidOperationException($"{Dll} is missing: build the tests (dotnet build tests/LuksVirt.Tests), whose project builds the fault-injection program");
        }

        return ("dotnet", [Dll]);
    }

    public static ToolResult Run(IEnumerable<string> arguments, IDictionary<string, string> environment, ReadOnlySpan<byte> standardInput = default, TimeSpan? timeout = null)
    {
        var (file, prefix) = Command();
        return ToolRunner.Run(file, prefix.Concat(arguments), standardInput, timeout ?? TimeSpan.FromMinutes(2), environment);
    }
}
