using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using LuksVirt.Core.Files;
using LuksVirt.Core.KeySources.Quorum;

namespace LuksVirt.Core.State;

/// <summary>
/// The quorums the <c>watch</c> service waits for, written for <c>luksvirt status</c> (another
/// process): who is present, who is awaited and when the window ends. Holder names and a time
/// only, never a share. Kept beside the state file; removed when nothing waits. A file left by a
/// service that is gone (killed: its shares went with its memory) or past its window is ignored.
/// </summary>
public static class QuorumWaitingFile
{
    public const string FileName = "quorum-waiting.json";

    /// <summary>The file beside the state file <paramref name="statePath"/>.</summary>
    public static string PathBeside(string statePath) => StateDirectory.FileBeside(statePath, FileName);

    /// <summary>Records what <paramref name="window"/> waits for, or removes the file when nothing waits.</summary>
    public static void Write(string path, QuorumShareWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        if (window.ExpiresAt is not { } expiresAt || window.WaitingQuorums is not { Count: > 0 } quorums)
        {
            if (File.Exists(path))
            {
                File.Delete(path);
            }

            return;
        }

        var document = new QuorumWaitingDocument(Environment.ProcessId, expiresAt, quorums);
        AtomicFile.Replace(path, JsonSerializer.SerializeToUtf8Bytes(document, QuorumWaitingJsonContext.Default.QuorumWaitingDocument),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    /// <summary>What a running service waits for, with the time left; empty when nothing waits.</summary>
    public static IReadOnlyList<string> Read(string path, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        QuorumWaitingDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(File.ReadAllBytes(path), QuorumWaitingJsonContext.Default.QuorumWaitingDocument);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return [];
        }

        var now = clock.GetUtcNow();
        if (document is null || document.ExpiresAt <= now || !Directory.Exists(string.Create(CultureInfo.InvariantCulture, $"/proc/{document.ProcessId}")))
        {
            return [];
        }

        return QuorumShareWindow.WithTimeLeft(document.Quorums, document.ExpiresAt, now);
    }
}

internal sealed record QuorumWaitingDocument(int ProcessId, DateTimeOffset ExpiresAt, IReadOnlyList<string> Quorums);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(QuorumWaitingDocument))]
internal sealed partial class QuorumWaitingJsonContext : JsonSerializerContext;
