using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LuksVirt.Interop.OpenSsl;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Tang;

/// <summary>
/// Writes a key into a JWE as <c>clevis encrypt sss CONFIG</c> does, so that <c>clevis decrypt</c>
/// (and <see cref="SssDecrypt"/>) open it: a fresh 256-bit safe prime, a random polynomial of
/// degree t-1 whose constant term is the A256GCM content key (alg dir), one point per child pin,
/// each encrypted by that pin (tang, or sss nested) into a compact JWE in <c>clevis.sss.jwe</c>.
/// The configuration is clevis's: <c>{"t":2,"pins":{"tang":[{"url":..,"thp":..},..],"sss":{..}}}</c>,
/// a pin's value an object or an array of objects. A tang child must name a trusted signing key
/// (<c>thp</c>) or carry the advertisement (<c>adv</c>: the JWS, or a file holding it): nobody is asked here.
/// The coefficients and the shares live only in SecretBuffers and are zeroed.
/// </summary>
internal static class SssEncrypt
{
    public static async Task<ClevisJwe> EncryptAsync(SecretBuffer key, JsonElement configuration, TangClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(client);
        var (threshold, children) = ReadConfiguration(configuration);
        var prime = new byte[SssDecrypt.PrimeBytes];
        ShamirPrimeField.GeneratePrime(prime);
        using var coefficients = SecretBuffer.Allocate(threshold * prime.Length);
        ShamirPrimeField.GenerateCoefficients(prime, coefficients.WritableSpan);

        var shares = new List<Task<string>>();
        foreach (var (pin, childConfiguration) in children)
        {
            shares.Add(EncryptShareAsync(pin, childConfiguration, prime, coefficients, client, cancellationToken));
        }

        var jwes = await Task.WhenAll(shares).ConfigureAwait(false);
        var header = new ClevisJweHeaderDocument
        {
            Alg = "dir",
            Clevis = new ClevisPinDocument
            {
                Pin = SssDecrypt.PinName,
                Sss = new ClevisSssDocument { Jwe = [.. jwes], P = Base64Url.EncodeToString(prime), T = threshold },
            },
            Enc = ConcatKdf.A256Gcm,
        };
        return Seal(key, header, coefficients);
    }

    /// <summary>The threshold and each child's pin and configuration, in the order clevis
    /// writes their shares (the object's members in order, each array's elements in order).</summary>
    private static (int Threshold, List<(string Pin, JsonElement Configuration)> Children) ReadConfiguration(JsonElement configuration)
    {
        if (configuration.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException("the sss configuration is a JSON object: {\"t\":2,\"pins\":{\"tang\":[{\"url\":..},..]}}", nameof(configuration));
        }

        var threshold = 1;
        if (configuration.TryGetProperty("t", out var t) && (t.ValueKind != JsonValueKind.Number || !t.TryGetInt32(out threshold)))
        {
            throw new ArgumentException("the sss configuration's t is not an integer", nameof(configuration));
        }

        if (!configuration.TryGetProperty("pins", out var pins) || pins.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException("the sss configuration lacks its 'pins' object", nameof(configuration));
        }

        var children = new List<(string, JsonElement)>();
        foreach (var pin in pins.EnumerateObject())
        {
            if (pin.Name is not (ClevisTangBinding.PinName or SssDecrypt.PinName))
            {
                throw new ArgumentException($"the sss configuration names the pin '{EcPublicJwk.Printable(pin.Name)}'; LuksVirt binds only tang and sss", nameof(configuration));
            }

            switch (pin.Value.ValueKind)
            {
                case JsonValueKind.Object:
                    children.Add((pin.Name, pin.Value));
                    break;
                case JsonValueKind.Array:
                    children.AddRange(pin.Value.EnumerateArray().Select(child => (pin.Name, child)));
                    break;
                default:
                    throw new ArgumentException($"the sss configuration's '{EcPublicJwk.Printable(pin.Name)}' is neither an object nor an array of objects", nameof(configuration));
            }
        }

        if (threshold < 1 || threshold > children.Count)
        {
            throw new ArgumentException($"the sss threshold must be between 1 and the number of pins ({children.Count}), not {threshold}", nameof(configuration));
        }

        return (threshold, children);
    }

    private static async Task<string> EncryptShareAsync(string pin, JsonElement configuration, byte[] prime, SecretBuffer coefficients, TangClient client, CancellationToken cancellationToken)
    {
        using var point = SecretBuffer.Allocate(2 * prime.Length);
        ShamirPrimeField.EvaluateAtRandomPoint(prime, coefficients.Span, point.WritableSpan);
        if (pin == SssDecrypt.PinName)
        {
            var nested = await EncryptAsync(point, configuration, client, cancellationToken).ConfigureAwait(false);
            return nested.ToCompact();
        }

        var (server, advertisement) = await TrustedAdvertisementAsync(configuration, client, cancellationToken).ConfigureAwait(false);
        return ClevisTangEncrypt.Encrypt(point, server, advertisement).ToCompact();
    }

    /// <summary>The tang child's server and its advertisement, trusted by <c>thp</c> or given as <c>adv</c>.</summary>
    private static async Task<(TangServerUrl Server, TangAdvertisement Advertisement)> TrustedAdvertisementAsync(JsonElement configuration, TangClient client, CancellationToken cancellationToken)
    {
        if (configuration.ValueKind != JsonValueKind.Object
            || !configuration.TryGetProperty("url", out var url) || url.ValueKind != JsonValueKind.String)
        {
            throw new ArgumentException("a tang pin's configuration is an object with a 'url'", nameof(configuration));
        }

        var server = TangServerUrl.Parse(url.GetString());
        if (configuration.TryGetProperty("adv", out var adv))
        {
            // As clevis-encrypt-tang: the advertisement itself, or the name of a file holding it.
            var advertisement = adv.ValueKind switch
            {
                JsonValueKind.Object => Encoding.UTF8.GetBytes(adv.GetRawText()),
                JsonValueKind.String => await File.ReadAllBytesAsync(adv.GetString()!, cancellationToken).ConfigureAwait(false),
                _ => throw new ArgumentException($"the tang pin for {server} has an 'adv' that is neither the advertisement nor a file name", nameof(configuration)),
            };
            return (server, TangAdvertisement.Parse(advertisement, $"the adv given for {server}"));
        }

        if (!configuration.TryGetProperty("thp", out var thp) || thp.ValueKind != JsonValueKind.String)
        {
            throw new ArgumentException($"the tang pin for {server} names no trusted signing key ('thp') and carries no advertisement ('adv'): nobody is asked to confirm one here", nameof(configuration));
        }

        return (server, await client.FetchAdvertisementAsync(server, thp.GetString(), cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Synchronous on purpose: the spans of the secrets never cross an await. The
    /// content key is the polynomial's constant term, the first coefficient.</summary>
    private static ClevisJwe Seal(SecretBuffer key, ClevisJweHeaderDocument header, SecretBuffer coefficients)
    {
        var protectedSegment = ClevisJwe.EncodeProtectedHeader(header);
        var iv = RandomNumberGenerator.GetBytes(ClevisJwe.IvBytes);
        var ciphertext = new byte[key.Length];
        var tag = new byte[ClevisJwe.TagBytes];
        using (var aes = new AesGcm(coefficients.Span[..SssDecrypt.PrimeBytes], ClevisJwe.TagBytes))
        {
            aes.Encrypt(iv, key.Span, ciphertext, tag, Encoding.ASCII.GetBytes(protectedSegment));
        }

        return ClevisJwe.Create(protectedSegment, header, iv, ciphertext, tag);
    }
}
