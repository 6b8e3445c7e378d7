using System.Globalization;
using System.Text.Json;
using LuksVirt.Core.Holders;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.KeyManagement;

/// <summary>
/// LUKS2 tokens that other tools bound to key slots (systemd-cryptenroll's systemd-tpm2 and
/// systemd-fido2, clevis...), by slot, so that <c>keys list</c> can say what a slot LuksVirt has
/// no holder for is used by. Read only; LuksVirt never changes these tokens.
/// </summary>
internal static class OtherToolTokens
{
    /// <summary>LUKS2_TOKENS_MAX in libcryptsetup.</summary>
    private const int TokenCount = 32;

    /// <summary>Token types per slot, in token order; empty for LUKS1 (no tokens).</summary>
    public static IReadOnlyDictionary<int, List<string>> Read(CryptDevice device)
    {
        var bySlot = new Dictionary<int, List<string>>();
        if (device.Version != LuksVersion.Luks2)
        {
            return bySlot;
        }

        for (var number = 0; number < TokenCount; number++)
        {
            if (device.GetTokenJson(number) is not { } json || TryParse(json) is not { } token || token.Type == LuksTokenHolders.TokenType)
            {
                continue;
            }

            foreach (var slot in token.Slots)
            {
                if (!bySlot.TryGetValue(slot, out var types))
                {
                    bySlot[slot] = types = [];
                }

                types.Add(token.Type);
            }
        }

        return bySlot;
    }

    private static (string Type, List<int> Slots)? TryParse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var typeElement) || typeElement.GetString() is not { Length: > 0 } type)
            {
                return null;
            }

            var slots = new List<int>();
            if (root.TryGetProperty("keyslots", out var keyslots) && keyslots.ValueKind == JsonValueKind.Array)
            {
                foreach (var entry in keyslots.EnumerateArray())
                {
                    if (entry.ValueKind == JsonValueKind.String && int.TryParse(entry.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var slot))
                    {
                        slots.Add(slot);
                    }
                }
            }

            // Shown to an administrator: printable and short, whatever another tool wrote.
            var printable = new string(type.Where(c => !char.IsControl(c)).Take(64).ToArray());
            return (printable, slots);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // libcryptsetup validated the JSON; a shape we do not expect only costs the hint.
            return null;
        }
    }
}
