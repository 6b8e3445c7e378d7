using System.Text.Json;
using System.Text.Json.Serialization;

namespace LuksVirt.Core.Tang;

/// <summary>A JSON Web Key as Tang and clevis write one (RFC 7517/7518); only EC keys are used.
/// Member names are the format: do not rename.</summary>
internal sealed class JwkDocument
{
    [JsonPropertyName("alg")]
    public string? Alg { get; set; }

    [JsonPropertyName("crv")]
    public string? Crv { get; set; }

    /// <summary>Read only to refuse it: a private key has no business in an advertisement,
    /// a header or a server reply.</summary>
    [JsonPropertyName("d")]
    public string? D { get; set; }

    [JsonPropertyName("key_ops")]
    public List<string>? KeyOps { get; set; }

    [JsonPropertyName("kty")]
    public string? Kty { get; set; }

    [JsonPropertyName("x")]
    public string? X { get; set; }

    [JsonPropertyName("y")]
    public string? Y { get; set; }
}

/// <summary>A JWK Set: the payload of a Tang advertisement, and clevis's <c>adv</c> in a JWE.</summary>
internal sealed class JwkSetDocument
{
    [JsonPropertyName("keys")]
    public List<JwkDocument>? Keys { get; set; }
}

/// <summary>One signature of a JWS in JSON serialization (RFC 7515 section 7.2).</summary>
internal sealed class JwsSignatureDocument
{
    [JsonPropertyName("protected")]
    public string? Protected { get; set; }

    [JsonPropertyName("signature")]
    public string? Signature { get; set; }
}

/// <summary>A JWS in JSON serialization, general (<c>signatures</c>) or flattened (one
/// signature's members beside the payload): Tang serves the flattened form when it has one
/// signing key and the general form when it has several.</summary>
internal sealed class JwsDocument
{
    [JsonPropertyName("payload")]
    public string? Payload { get; set; }

    [JsonPropertyName("protected")]
    public string? Protected { get; set; }

    [JsonPropertyName("signature")]
    public string? Signature { get; set; }

    [JsonPropertyName("signatures")]
    public List<JwsSignatureDocument>? Signatures { get; set; }
}

/// <summary>The protected header of one JWS signature.</summary>
internal sealed class JwsHeaderDocument
{
    [JsonPropertyName("alg")]
    public string? Alg { get; set; }
}

/// <summary>The protected header clevis-encrypt-tang writes (members in jose's sorted order).</summary>
internal sealed class ClevisJweHeaderDocument
{
    [JsonPropertyName("alg")]
    public string? Alg { get; set; }

    [JsonPropertyName("clevis")]
    public ClevisPinDocument? Clevis { get; set; }

    [JsonPropertyName("enc")]
    public string? Enc { get; set; }

    [JsonPropertyName("epk")]
    public JwkDocument? Epk { get; set; }

    [JsonPropertyName("kid")]
    public string? Kid { get; set; }

    /// <summary>Read only to refuse it: clevis never compresses, and a compressed plaintext
    /// would need a decompressor on the unlock path.</summary>
    [JsonPropertyName("zip")]
    public string? Zip { get; set; }
}

internal sealed class ClevisPinDocument
{
    [JsonPropertyName("pin")]
    public string? Pin { get; set; }

    [JsonPropertyName("sss")]
    public ClevisSssDocument? Sss { get; set; }

    [JsonPropertyName("tang")]
    public ClevisTangDocument? Tang { get; set; }
}

internal sealed class ClevisTangDocument
{
    /// <summary>The advertisement's JWK Set, kept as the server wrote it.</summary>
    [JsonPropertyName("adv")]
    public JsonElement? Adv { get; set; }

    [JsonPropertyName("url")]
    public string? Url { get; set; }
}

/// <summary>The sss pin's member of the header, as clevis-encrypt-sss writes it (members in
/// jose's sorted order): one compact JWE per share, the prime as base64url, the threshold.</summary>
internal sealed class ClevisSssDocument
{
    [JsonPropertyName("jwe")]
    public List<string>? Jwe { get; set; }

    [JsonPropertyName("p")]
    public string? P { get; set; }

    [JsonPropertyName("t")]
    public int? T { get; set; }
}

/// <summary>A JWE in flattened JSON serialization (RFC 7516 section 7.2.2): how clevis stores one
/// in a LUKS2 token (<c>jose jwe fmt</c>). The unprotected members are read only to refuse them:
/// clevis never writes them, and they would not be covered by the tag.</summary>
internal sealed class JweDocument
{
    [JsonPropertyName("aad")]
    public string? Aad { get; set; }

    [JsonPropertyName("ciphertext")]
    public string? Ciphertext { get; set; }

    [JsonPropertyName("encrypted_key")]
    public string? EncryptedKey { get; set; }

    [JsonPropertyName("header")]
    public JsonElement? Header { get; set; }

    [JsonPropertyName("iv")]
    public string? Iv { get; set; }

    [JsonPropertyName("protected")]
    public string? Protected { get; set; }

    [JsonPropertyName("tag")]
    public string? Tag { get; set; }

    [JsonPropertyName("unprotected")]
    public JsonElement? Unprotected { get; set; }
}

/// <summary>A LUKS2 token of type "clevis" as <c>clevis luks bind</c> writes it: the slot it
/// unlocks (as a string, as LUKS2 keeps them) and the JWE in flattened JSON.</summary>
internal sealed class ClevisTokenDocument
{
    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("keyslots")]
    public List<string>? Keyslots { get; set; }

    [JsonPropertyName("jwe")]
    public JsonElement? Jwe { get; set; }
}

/// <summary>Source-generated (AOT: no reflection). Duplicate members are refused: two
/// <c>kid</c>s or two <c>x</c>s would let two readers see two different objects.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowDuplicateProperties = false)]
[JsonSerializable(typeof(JwkDocument))]
[JsonSerializable(typeof(JwkSetDocument))]
[JsonSerializable(typeof(JwsDocument))]
[JsonSerializable(typeof(JwsHeaderDocument))]
[JsonSerializable(typeof(ClevisJweHeaderDocument))]
[JsonSerializable(typeof(JweDocument))]
[JsonSerializable(typeof(ClevisTokenDocument))]
internal sealed partial class JoseJsonContext : JsonSerializerContext;
