using System.Text.Json.Serialization;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Migration;

namespace LuksVirt.Cli;

/// <summary>Source-generated serializers for the reports of <c>create</c> and <c>encrypt-vm</c>.</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CreateReport))]
[JsonSerializable(typeof(EncryptVmReport))]
internal sealed partial class ContainerJsonContext : JsonSerializerContext;
