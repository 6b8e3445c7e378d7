using System.Text;
using LuksVirt.Tests.Containers;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Cli;

/// <summary>
/// The program administrators install has no test hook: no environment variable makes it kill
/// itself or fail on purpose, and its files do not even contain the hooks' names. Only the
/// fault-injection build (<see cref="FaultInjectionProgram"/>) has them (reliability.md, hostile review).
/// </summary>
public sealed class FaultHooksAbsenceTests
{
    private static readonly string[] Traces =
        ["LUKSVIRT_TEST_", "TestFaultHook", "MigrationFaultInjection", "LUKSVIRT_FAULT_INJECTION"];

    /// <summary>The published NativeAOT binary when LUKSVIRT_BIN names it (scripts/test.sh), else the
    /// framework build beside the tests: the program and the two assemblies it loads.</summary>
    private static List<string> InstalledFiles()
    {
        var published = Environment.GetEnvironmentVariable("LUKSVIRT_BIN");
        return !string.IsNullOrEmpty(published)
            ? [published]
            : new[] { "luksvirt.dll", "LuksVirt.Core.dll", "LuksVirt.Interop.dll" }.Select(f => Path.Combine(AppContext.BaseDirectory, f)).ToList();
    }

    [Fact]
    public void The_installed_program_contains_no_trace_of_the_fault_hooks()
    {
        var found = new List<string>();
        foreach (var file in InstalledFiles())
        {
            var bytes = File.ReadAllBytes(file);
            found.AddRange(Traces.Where(trace => Contains(bytes, trace)).Select(trace => $"{file}: {trace}"));
        }

        Assert.Empty(found);
    }

    [Fact]
    public void The_search_finds_the_hooks_in_the_fault_injection_build()
    {
        // Proves the search above would see them: same encodings, same names.
        var core = File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(FaultInjectionProgram.Dll)!, "LuksVirt.Core.dll"));

        Assert.True(Contains(core, "LUKSVIRT_TEST_"));
        Assert.True(Contains(core, "TestFaultHook"));
    }

    [Fact]
    public void The_installed_program_ignores_the_hook_variables_and_the_fault_injection_build_obeys_them()
    {
        using var directory = new TempDirectory("hooks");
        using var key = LuksVirt.Interop.Secrets.SecretBuffer.GeneratePrintableKey();
        var image = DamagedHeaders.FormatWithCryptsetup(directory, "c.img", LuksVirt.Interop.Cryptsetup.LuksVersion.Luks2, key.Span);
        var faults = new Dictionary<string, string> { [FaultInjectionProgram.FailAfterVariable] = "write-backup" };
        var installed = directory.PathOf("installed.bak");
        var injected = directory.PathOf("injected.bak");

        var (file, prefix) = LuksVirtCli.Command();
        var normal = ToolRunner.Run(file, [.. prefix, "header", "backup", "--container", image, "--file", installed], timeout: TimeSpan.FromMinutes(1), environment: faults);
        var faulty = ContainerCli.RunWithFaults(["header", "backup", "--container", image, "--file", injected], faults);

        Assert.True(normal.ExitCode == 0, normal.StandardError);
        Assert.True(File.Exists(installed));
        Assert.Equal(1, faulty.ExitCode);
        Assert.Contains("simulated failure", faulty.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(injected));
    }

    /// <summary>As a string literal (UTF-16, in .NET metadata and NativeAOT's frozen strings) or a
    /// name (UTF-8, in metadata tables and symbol names).</summary>
    private static bool Contains(byte[] haystack, string text) =>
        haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0
        || haystack.AsSpan().IndexOf(Encoding.Unicode.GetBytes(text)) >= 0;
}
