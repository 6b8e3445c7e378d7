using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace LuksVirt.Cli;

/// <summary>Every <c>--json</c> report goes through source-generated serializers (NativeAOT).</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(string[]))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

internal static class JsonOutput
{
    public static void Write<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(value, typeInfo));
    }
}
