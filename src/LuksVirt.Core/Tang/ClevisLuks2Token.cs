using System.Globalization;
using System.Text.Json;
using LuksVirt.Interop.Cryptsetup;

namespace LuksVirt.Core.Tang;

/// <summary>
/// A clevis binding on a LUKS2 container: a token of type "clevis" naming one key slot and
/// holding the JWE (flattened JSON) whose plaintext is that slot's passphrase, exactly as
/// <c>clevis luks bind</c> writes it and <c>clevis luks list</c>, <c>pass</c> and
/// <c>unlock</c> read it. The JWE may be for any pin (tang, sss...); opening it is the pin's
/// business.
/// </summary>
internal sealed class ClevisLuks2Token
{
    public const string TokenType = "clevis";

    /// <summary>LUKS2_TOKENS_MAX in libcryptsetup.</summary>
    private const int TokenCount = 32;

    private ClevisLuks2Token(int tokenId, int keySlot, ClevisJwe jwe)
    {
        TokenId = tokenId;
        KeySlot = keySlot;
        Jwe = jwe;
    }

    public int TokenId { get; }

    public int KeySlot { get; }

    public ClevisJwe Jwe { get; }

    /// <summary>The clevis tokens of <paramref name="device"/> (none on LUKS1, whose bindings
    /// live in LUKSMeta slots instead). A clevis token that is malformed throws
    /// <see cref="ClevisJweException"/> naming the token.</summary>
    public static IReadOnlyList<ClevisLuks2Token> ReadAll(CryptDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var tokens = new List<ClevisLuks2Token>();
        if (device.Version != LuksVersion.Luks2)
        {
            return tokens;
        }

        for (var id = 0; id < TokenCount; id++)
        {
            if (device.GetTokenJson(id) is { } json && Parse(id, json) is { } token)
            {
                tokens.Add(token);
            }
        }

        return tokens;
    }

    /// <summary>Null for a token of another type; the binding for a clevis token.</summary>
    public static ClevisLuks2Token? Parse(int tokenId, string json)
    {
        ClevisTokenDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(json, JoseJsonContext.Default.ClevisTokenDocument);
        }
        catch (JsonException e)
        {
            throw new ClevisJweException($"LUKS2 token {tokenId} is not JSON: {e.Message}", e);
        }

        if (document?.Type != TokenType)
        {
            return null;
        }

        // clevis binds one token to one slot.
        if (document.Keyslots is not [var slotText] || !int.TryParse(slotText, NumberStyles.None, CultureInfo.InvariantCulture, out var slot))
        {
            throw new ClevisJweException($"clevis token {tokenId} names {document.Keyslots?.Count ?? 0} key slots; clevis binds a token to exactly one");
        }

        if (document.Jwe is not { ValueKind: JsonValueKind.Object } jwe)
        {
            throw new ClevisJweException($"clevis token {tokenId} holds no JWE object");
        }

        return new ClevisLuks2Token(tokenId, slot, ClevisJwe.ParseFlattened(jwe));
    }

    /// <summary>The token JSON for <paramref name="jwe"/> unlocking <paramref name="keySlot"/>, as
    /// <c>clevis luks bind</c> writes it (for CryptDevice.SetTokenJson).</summary>
    public static string Format(int keySlot, ClevisJwe jwe)
    {
        ArgumentNullException.ThrowIfNull(jwe);
        ArgumentOutOfRangeException.ThrowIfNegative(keySlot);
        var document = new ClevisTokenDocument
        {
            Type = TokenType,
            Keyslots = [keySlot.ToString(CultureInfo.InvariantCulture)],
            Jwe = JsonSerializer.SerializeToElement(jwe.ToFlattened(), JoseJsonContext.Default.JweDocument),
        };
        return JsonSerializer.Serialize(document, JoseJsonContext.Default.ClevisTokenDocument);
    }
}
