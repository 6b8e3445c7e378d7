using System.Text.Json.Serialization.Metadata;
using System.Text.Json.Serialization;
using System.Text.Json;
using LuksVirt.Core.Bench;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Doctor;
using LuksVirt.Core.Lock;
using LuksVirt.Core.Migration;
using LuksVirt.Core.Status;
using LuksVirt.Core.Unlock;

namespace LuksVirt.Cli;

/// <summary>Every <c>--json</c> report goes through source-generated serializers (NativeAOT).</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DoctorReport))]
[JsonSerializable(typeof(UnlockReport))]
[JsonSerializable(typeof(StatusReport))]
[JsonSerializable(typeof(LockReport))]
[JsonSerializable(typeof(BenchReport))]
[JsonSerializable(typeof(CreateReport))]
[JsonSerializable(typeof(EncryptVmReport))]
[JsonSerializable(typeof(KeysListReport))]
[JsonSerializable(typeof(KeysChangeReport))]
[JsonSerializable(typeof(KeysBindingReport))]
[JsonSerializable(typeof(HeaderBackupReport))]
[JsonSerializable(typeof(HeaderRestoreReport))]
[JsonSerializable(typeof(CommandErrorReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

internal static class JsonOutput
{
    public static void Write<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(value, typeInfo));
    }
}
