using System.Text.Json;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Containers;

/// <summary>Runs the real luksvirt program for the keys and header commands.</summary>
internal static class ContainerCli
{
    /// <summary>Exit status of a process killed by SIGKILL, as .NET reports it (128 + 9).</summary>
    public const int KilledBySigkill = 137;

    public static ToolResult Run(IEnumerable<string> arguments, ReadOnlySpan<byte> standardInput = default)
    {
        var (file, prefix) = LuksVirtCli.Command();
        return ToolRunner.Run(file, prefix.Concat(arguments), standardInput, TimeSpan.FromMinutes(2));
    }

    /// <summary>The fault-injection build (<see cref="FaultInjectionProgram"/>) with the hook variables in <paramref name="faults"/>.</summary>
    public static ToolResult RunWithFaults(IEnumerable<string> arguments, IDictionary<string, string> faults) =>
        FaultInjectionProgram.Run(arguments, faults);

    /// <summary><c>keys SUBCOMMAND --container IMAGE --registry REGISTRY ...</c> for a test container.</summary>
    public static ToolResult Keys(TestContainer container, string subcommand, IEnumerable<string> arguments, ReadOnlySpan<byte> standardInput = default) =>
        Run(KeysArguments(container, subcommand, arguments), standardInput);

    /// <summary>As <see cref="Keys"/>, by the fault-injection build.</summary>
    public static ToolResult KeysWithFaults(TestContainer container, string subcommand, IEnumerable<string> arguments, IDictionary<string, string> faults) =>
        RunWithFaults(KeysArguments(container, subcommand, arguments), faults);

    private static string[] KeysArguments(TestContainer container, string subcommand, IEnumerable<string> arguments) =>
        ["keys", subcommand, "--container", container.Image, "--registry", container.Registry, .. arguments];

    public static JsonElement Json(ToolResult result)
    {
        using var document = JsonDocument.Parse(result.StandardOutput);
        return document.RootElement.Clone();
    }
}
