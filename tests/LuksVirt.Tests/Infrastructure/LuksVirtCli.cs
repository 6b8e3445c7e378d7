namespace LuksVirt.Tests.Infrastructure;

/// <summary>
/// Runs the real <c>luksvirt</c> program as a separate process, as an administrator would:
/// the NativeAOT binary that scripts/test.sh publishes (LUKSVIRT_BIN), or else the framework
/// build next to the tests.
/// </summary>
public static class LuksVirtCli
{
    public static string BinaryDescription => Environment.GetEnvironmentVariable("LUKSVIRT_BIN") ?? "dotnet luksvirt.dll";

    public static ToolResult Run(IEnumerable<string> arguments, TimeSpan? timeout = null, ReadOnlySpan<byte> standardInput = default)
    {
        var (file, prefix) = Command();
        return ToolRunner.Run(file, prefix.Concat(arguments), standardInput, timeout ?? TimeSpan.FromMinutes(3));
    }

    public static ToolResult Run(params string[] arguments) => Run(arguments, null);

    /// <summary>The program and leading arguments, for tests that manage the process themselves.</summary>
    public static (string File, IReadOnlyList<string> Prefix) Command()
    {
        var aot = Environment.GetEnvironmentVariable("LUKSVIRT_BIN");
        if (!string.IsNullOrEmpty(aot))
        {
            return (aot, []);
        }

        var dll = Path.Combine(AppContext.BaseDirectory, "luksvirt.dll");
        return ("dotnet", [dll]);
    }
}
