using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.Holders;

/// <summary>
/// LUKS2: one token of type <c>luksvirt-holder</c> per slot, assigned to that slot, carrying the
/// holder's name (and the key kind and date). libcryptsetup unassigns a destroyed slot from its
/// tokens, so a token with no slot is a leftover of an interrupted change and is ignored (and
/// removed by the next change). Tokens of other types are left alone.
/// </summary>
internal sealed class LuksTokenHolders : IHolderStore
{
    public const string TokenType = "luksvirt-holder";

    /// <summary>LUKS2_TOKENS_MAX in libcryptsetup.</summary>
    private const int TokenCount = 32;

    public string Location => "LUKS2 tokens";

    public bool LivesInHeader => true;

    public IReadOnlyDictionary<int, HolderRecord> Read(CryptDevice device)
    {
        var records = new Dictionary<int, HolderRecord>();
        foreach (var token in ReadTokens(device))
        {
            foreach (var slot in token.Slots)
            {
                records.TryAdd(slot, token.Record);
            }
        }

        return records;
    }

    public void Record(CryptDevice device, int slot, HolderRecord record)
    {
        RemoveTokens(device, t => t.Slots.Count == 0 || t.Slots.Contains(slot));
        device.SetTokenJson(-1, ToJson(slot, record));
    }

    public void Forget(CryptDevice device, int slot) =>
        RemoveTokens(device, t => t.Slots.Count == 0 || (t.Slots.Count == 1 && t.Slots[0] == slot));

    private static void RemoveTokens(CryptDevice device, Func<HolderToken, bool> predicate)
    {
        foreach (var token in ReadTokens(device).Where(predicate).ToList())
        {
            device.RemoveToken(token.Number);
        }
    }

    private static List<HolderToken> ReadTokens(CryptDevice device)
    {
        var tokens = new List<HolderToken>();
        for (var number = 0; number < TokenCount; number++)
        {
            var json = device.GetTokenJson(number);
            if (json is not null && TryParse(number, json) is { } token)
            {
                tokens.Add(token);
            }
        }

        return tokens;
    }

    private static HolderToken? TryParse(int number, string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("type", out var type) || type.GetString() != TokenType
                || !root.TryGetProperty("holder", out var holder) || holder.GetString() is not { } name || !HolderName.IsValid(name))
            {
                return null;
            }

            var slots = new List<int>();
            if (root.TryGetProperty("keyslots", out var keyslots) && keyslots.ValueKind == JsonValueKind.Array)
            {
                foreach (var entry in keyslots.EnumerateArray())
                {
                    if (int.TryParse(entry.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var slot))
                    {
                        slots.Add(slot);
                    }
                }
            }

            var kind = root.TryGetProperty("key", out var key) ? HolderKeyKinds.Parse(key.GetString()) : HolderKeyKind.Unknown;
            DateTimeOffset? created = root.TryGetProperty("created", out var date) && date.TryGetDateTimeOffset(out var when) ? when : null;
            return new HolderToken(number, slots, new HolderRecord(name, kind, created) { Quorum = ReadQuorum(root) });
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Not ours to judge: another tool's token that merely uses our type name.
            return null;
        }
    }

    /// <summary>"quorum": {"threshold": 2, "holders": ["alice", "bob", "carol"], "split": "..."}.</summary>
    private static QuorumRecord? ReadQuorum(JsonElement root)
    {
        if (!root.TryGetProperty("quorum", out var quorum) || quorum.ValueKind != JsonValueKind.Object
            || !quorum.TryGetProperty("threshold", out var threshold) || !threshold.TryGetInt32(out var k)
            || !quorum.TryGetProperty("holders", out var holders) || holders.ValueKind != JsonValueKind.Array
            || !quorum.TryGetProperty("split", out var split))
        {
            return null;
        }

        var names = holders.EnumerateArray().Select(h => h.ValueKind == JsonValueKind.String ? h.GetString()! : string.Empty).ToList();
        return QuorumRecord.TryCreate(k, names, split.GetString());
    }

    private static void WriteQuorum(Utf8JsonWriter writer, QuorumRecord quorum)
    {
        writer.WriteStartObject("quorum");
        writer.WriteNumber("threshold", quorum.Threshold);
        writer.WriteStartArray("holders");
        foreach (var holder in quorum.Holders)
        {
            writer.WriteStringValue(holder);
        }

        writer.WriteEndArray();
        writer.WriteString("split", quorum.SplitId);
        writer.WriteEndObject();
    }

    private static string ToJson(int slot, HolderRecord record)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", TokenType);
            writer.WriteStartArray("keyslots");
            writer.WriteStringValue(slot.ToString(CultureInfo.InvariantCulture));
            writer.WriteEndArray();
            writer.WriteString("holder", record.Holder);
            writer.WriteString("key", HolderKeyKinds.NameOf(record.Kind));
            if (record.Created is { } created)
            {
                writer.WriteString("created", created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
            }

            if (record.Quorum is { } quorum)
            {
                WriteQuorum(writer, quorum);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private sealed record HolderToken(int Number, List<int> Slots, HolderRecord Record);
}
