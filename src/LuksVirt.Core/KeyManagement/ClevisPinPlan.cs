using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LuksVirt.Core.Tang;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.KeyManagement;

/// <summary>
/// A clevis pin configuration (tang, or sss nesting tang and sss) with every Tang server's
/// advertisement fetched and verified in advance, so that encrypting asks no server: each tang
/// node becomes <c>{"url":..,"adv":JWS}</c>, as <c>clevis encrypt</c> accepts it. A server is
/// trusted by the <c>thp</c> or <c>adv</c> the administrator gave, or (rebind) by its former
/// signing key having signed the new advertisement; any other is listed in
/// <see cref="Unconfirmed"/> for the administrator to confirm before anything is written.
/// </summary>
internal sealed class ClevisPinPlan
{
    private readonly JsonObject _configuration;

    private ClevisPinPlan(string pin, JsonObject configuration, IReadOnlyList<TangServerToConfirm> unconfirmed)
    {
        Pin = pin;
        _configuration = configuration;
        Unconfirmed = unconfirmed;
    }

    public string Pin { get; }

    /// <summary>Servers whose advertisement nobody vouched for, in the order they answered.</summary>
    public IReadOnlyList<TangServerToConfirm> Unconfirmed { get; }

    /// <summary>The plan for <c>keys bind PIN CONFIG</c>. <see cref="ArgumentException"/> for a
    /// configuration that is not clevis's; <see cref="TangException"/> for a server that fails.</summary>
    public static async Task<ClevisPinPlan> ForBindAsync(string pin, JsonElement configuration, TangClient client, CancellationToken cancellationToken)
    {
        var walk = new Walk(client, cancellationToken);
        var resolved = pin switch
        {
            ClevisTangBinding.PinName => await walk.TangAsync(configuration).ConfigureAwait(false),
            SssDecrypt.PinName => await walk.SssAsync(configuration, depth: 0).ConfigureAwait(false),
            _ => throw new ArgumentException($"LuksVirt binds the pins tang and sss, not '{EcPublicJwk.Printable(pin)}'", nameof(pin)),
        };
        return new ClevisPinPlan(pin, resolved, walk.Unconfirmed);
    }

    /// <summary>The plan for <c>keys rebind</c>: the same pins, thresholds and servers as
    /// <paramref name="old"/>, with each server's current advertisement.</summary>
    public static async Task<ClevisPinPlan> ForRebindAsync(ClevisJwe old, TangClient client, CancellationToken cancellationToken)
    {
        var walk = new Walk(client, cancellationToken);
        var resolved = await walk.FromJweAsync(old, depth: 0).ConfigureAwait(false);
        return new ClevisPinPlan(old.Header.Clevis!.Pin!, resolved, walk.Unconfirmed);
    }

    /// <summary>Encrypts <paramref name="key"/> as <c>clevis encrypt PIN CONFIG</c> would; no
    /// server is asked (every advertisement is in the plan).</summary>
    public async Task<ClevisJwe> EncryptAsync(SecretBuffer key, TangClient client, CancellationToken cancellationToken)
    {
        if (Pin == ClevisTangBinding.PinName)
        {
            var server = TangServerUrl.Parse(_configuration["url"]!.GetValue<string>());
            var advertisement = TangAdvertisement.Parse(Encoding.UTF8.GetBytes(_configuration["adv"]!.ToJsonString()), server.Text);
            return ClevisTangEncrypt.Encrypt(key, server, advertisement);
        }

        using var document = JsonDocument.Parse(_configuration.ToJsonString());
        return await SssEncrypt.EncryptAsync(key, document.RootElement, client, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One resolution: the requests of all tang nodes go out in parallel.</summary>
    private sealed class Walk(TangClient client, CancellationToken cancellationToken)
    {
        private const int MaxDepth = 8;
        private readonly List<TangServerToConfirm> _unconfirmed = [];

        public IReadOnlyList<TangServerToConfirm> Unconfirmed
        {
            get
            {
                lock (_unconfirmed)
                {
                    return [.. _unconfirmed];
                }
            }
        }

        public async Task<JsonObject> TangAsync(JsonElement configuration)
        {
            if (configuration.ValueKind != JsonValueKind.Object
                || !configuration.TryGetProperty("url", out var url) || url.ValueKind != JsonValueKind.String)
            {
                throw new ArgumentException("a tang pin's configuration is an object with a 'url': {\"url\":\"http://tang.example\",\"thp\":\"...\"}", nameof(configuration));
            }

            var server = ParseUrl(url.GetString());
            if (configuration.TryGetProperty("adv", out var adv))
            {
                // As clevis-encrypt-tang: the advertisement itself, or the name of a file holding
                // it; the administrator who gives it vouches for it.
                var bytes = adv.ValueKind switch
                {
                    JsonValueKind.Object => Encoding.UTF8.GetBytes(adv.GetRawText()),
                    JsonValueKind.String => await File.ReadAllBytesAsync(adv.GetString()!, cancellationToken).ConfigureAwait(false),
                    _ => throw new ArgumentException($"the tang pin for {server} has an 'adv' that is neither the advertisement nor a file name", nameof(configuration)),
                };
                return Node(server, TangAdvertisement.Parse(bytes, $"the adv given for {server}"));
            }

            if (configuration.TryGetProperty("thp", out var thp))
            {
                if (thp.ValueKind != JsonValueKind.String)
                {
                    throw new ArgumentException($"the tang pin for {server} has a 'thp' that is not a string", nameof(configuration));
                }

                return Node(server, await client.FetchAdvertisementAsync(server, thp.GetString(), cancellationToken).ConfigureAwait(false));
            }

            return await UnconfirmedNodeAsync(server).ConfigureAwait(false);
        }

        public async Task<JsonObject> SssAsync(JsonElement configuration, int depth)
        {
            if (depth >= MaxDepth)
            {
                throw new ArgumentException($"the sss configuration nests deeper than {MaxDepth} levels", nameof(configuration));
            }

            // As clevis-encrypt-sss: t is optional and 1 by default; SssEncrypt checks its range.
            var threshold = 1;
            if (configuration.ValueKind != JsonValueKind.Object
                || (configuration.TryGetProperty("t", out var t) && (t.ValueKind != JsonValueKind.Number || !t.TryGetInt32(out threshold)))
                || !configuration.TryGetProperty("pins", out var pins) || pins.ValueKind != JsonValueKind.Object)
            {
                throw new ArgumentException("the sss configuration is {\"t\":2,\"pins\":{\"tang\":[{\"url\":..},{\"url\":..}]}}, with an integer t and a pins object", nameof(configuration));
            }

            var children = new List<(string Pin, Task<JsonObject> Node)>();
            foreach (var pin in pins.EnumerateObject())
            {
                var members = pin.Value.ValueKind switch
                {
                    JsonValueKind.Object => [pin.Value],
                    JsonValueKind.Array => pin.Value.EnumerateArray().ToList(),
                    _ => throw new ArgumentException($"the sss configuration's '{EcPublicJwk.Printable(pin.Name)}' is neither an object nor an array of objects", nameof(configuration)),
                };
                foreach (var member in members)
                {
                    children.Add((pin.Name, pin.Name switch
                    {
                        ClevisTangBinding.PinName => TangAsync(member),
                        SssDecrypt.PinName => SssAsync(member, depth + 1),
                        _ => throw new ArgumentException($"the sss configuration names the pin '{EcPublicJwk.Printable(pin.Name)}'; LuksVirt binds only tang and sss", nameof(configuration)),
                    }));
                }
            }

            await Task.WhenAll(children.Select(c => c.Node)).ConfigureAwait(false);
            return Sss(threshold, children.Select(c => (c.Pin, c.Node.Result)));
        }

        public async Task<JsonObject> FromJweAsync(ClevisJwe jwe, int depth)
        {
            switch (jwe.Header.Clevis?.Pin)
            {
                case ClevisTangBinding.PinName:
                    return await RebindTangAsync(jwe).ConfigureAwait(false);
                case SssDecrypt.PinName when depth < MaxDepth && jwe.Header.Clevis.Sss is { T: { } threshold, Jwe: { } shares }:
                    var children = shares.Select(ClevisJwe.ParseCompact)
                        .Select(share => (Pin: share.Header.Clevis?.Pin ?? string.Empty, Node: FromJweAsync(share, depth + 1)))
                        .ToList();
                    await Task.WhenAll(children.Select(c => c.Node)).ConfigureAwait(false);
                    return Sss(threshold, children.Select(c => (c.Pin, c.Node.Result)));
                default:
                    throw new UnsupportedClevisPinException(jwe.Header.Clevis?.Pin ?? "(none)");
            }
        }

        /// <summary>The server's current advertisement, trusted when a signing key of the
        /// advertisement the old binding carries signed it too (Tang signs with its rotated keys
        /// on request); otherwise to be confirmed.</summary>
        private async Task<JsonObject> RebindTangAsync(ClevisJwe jwe)
        {
            var binding = ClevisTangBinding.Read(jwe);
            foreach (var formerKey in TangAdvertisement.SigningKeysOf(jwe.Header.Clevis!.Tang!.Adv!.Value))
            {
                try
                {
                    return Node(binding.Server, await client.FetchAdvertisementVouchedForAsync(binding.Server, formerKey, cancellationToken).ConfigureAwait(false));
                }
                catch (TangUntrustedAdvertisementException)
                {
                    // That key is gone from the server: try the next, then ask the administrator.
                }
            }

            return await UnconfirmedNodeAsync(binding.Server).ConfigureAwait(false);
        }

        private async Task<JsonObject> UnconfirmedNodeAsync(TangServerUrl server)
        {
            var advertisement = await client.FetchAdvertisementAsync(server, null, cancellationToken).ConfigureAwait(false);
            lock (_unconfirmed)
            {
                _unconfirmed.Add(new TangServerToConfirm(server.Text, advertisement.SigningKeyThumbprints));
            }

            return Node(server, advertisement);
        }

        private static TangServerUrl ParseUrl(string? url)
        {
            try
            {
                return TangServerUrl.Parse(url);
            }
            catch (FormatException e)
            {
                throw new ArgumentException(e.Message, nameof(url), e);
            }
        }

        private static JsonObject Node(TangServerUrl server, TangAdvertisement advertisement) => new()
        {
            ["url"] = server.Text,
            ["adv"] = JsonNode.Parse(advertisement.Jws),
        };

        /// <summary>clevis reads a pin's value as one object or an array of them; arrays always.</summary>
        private static JsonObject Sss(int threshold, IEnumerable<(string Pin, JsonObject Node)> children)
        {
            var pins = new JsonObject();
            foreach (var (pin, node) in children)
            {
                if (pins[pin] is not JsonArray list)
                {
                    pins[pin] = list = [];
                }

                list.Add((JsonNode)node);
            }

            return new JsonObject { ["t"] = threshold, ["pins"] = pins };
        }
    }
}
