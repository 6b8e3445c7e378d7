using System.Text.Json.Serialization;
using LuksVirt.Core.Bench;

namespace LuksVirt.Cli;

/// <summary>Source-generated serializers for <c>luksvirt bench --json</c> (NativeAOT), with the
/// same conventions as <see cref="CliJsonContext"/>.</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BenchReport))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
