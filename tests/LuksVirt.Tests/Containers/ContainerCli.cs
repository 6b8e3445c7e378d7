using System.Text.Json;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Containers;

/// <summary>Runs the real luksvirt program for the keys and header commands.</summary>
internal static class ContainerCli
{
    /// <summary>Exit status of a process killed by SIGKILL, as .NET reports it (128 + 9).</summary>
    public const int KilledBySigkill = 137;

    public static ToolResult Run(IEnumerable<string> arguments, ReadOnlySpan<byte> standardInput = default, IDictionary<string, string>? environment = null)
    {
        var (file, prefix) = LuksVirtCli.Command();
        return ToolRunner.Run(file, prefix.Concat(arguments), standardInput, TimeSpan.FromMinutes(2), environment);
    }

    /// <summary><c>keys SUBCOMMAND --container IMAGE --registry REGISTRY ...</c> for a test container.</summary>
    public static ToolResult Keys(TestContainer container, string subcommand, IEnumerable<string> arguments, ReadOnlySpan<byte> standardInput = default, IDictionary<string, string>? environment = null) =>
        Run(["keys", subcommand, "--container", container.Image, "--registry", container.Registry, .. arguments], standardInput, environment);

    public static JsonElement Json(ToolResult result)
    {
        using var document = JsonDocument.Parse(result.StandardOutput);
        return document.RootElement.Clone();
    }
}
