using LuksVirt.Core.Tang;

namespace LuksVirt.Core.KeyManagement;

/// <summary>Reads what a clevis JWE says about its pins (servers, thresholds, exchange keys) for
/// reports; opens nothing and asks no server.</summary>
internal static class ClevisPinDescription
{
    /// <summary>sss pins nest; clevis itself has no limit, a report needs one.</summary>
    private const int MaxDepth = 8;

    public static ClevisPinInfo Of(ClevisJwe jwe) => Of(jwe, depth: 0);

    /// <summary>The exchange keys (kid) of every tang pin in the JWE, in share order.</summary>
    public static IReadOnlyList<string> KeyIdsOf(ClevisJwe jwe)
    {
        var keyIds = new List<string>();
        Collect(jwe, keyIds, depth: 0);
        return keyIds;
    }

    private static ClevisPinInfo Of(ClevisJwe jwe, int depth)
    {
        var pin = jwe.Header.Clevis?.Pin is { } name ? EcPublicJwk.Printable(name) : "(none)";
        switch (pin)
        {
            case ClevisTangBinding.PinName:
                return new ClevisPinInfo(pin, jwe.Header.Clevis?.Tang?.Url is { } url ? EcPublicJwk.Printable(url) : null, null, []);
            case SssDecrypt.PinName when depth < MaxDepth && jwe.Header.Clevis?.Sss is { } sss:
                var children = (sss.Jwe ?? []).Select(share =>
                {
                    try
                    {
                        return Of(ClevisJwe.ParseCompact(share), depth + 1);
                    }
                    catch (ClevisJweException)
                    {
                        return new ClevisPinInfo("(unreadable)", null, null, []);
                    }
                }).ToList();
                return new ClevisPinInfo(pin, null, sss.T, children);
            default:
                return new ClevisPinInfo(pin, null, null, []);
        }
    }

    private static void Collect(ClevisJwe jwe, List<string> keyIds, int depth)
    {
        if (jwe.Header.Clevis?.Pin == ClevisTangBinding.PinName && jwe.Header.Kid is { } kid)
        {
            keyIds.Add(EcPublicJwk.Printable(kid));
        }
        else if (depth < MaxDepth && jwe.Header.Clevis?.Sss?.Jwe is { } shares)
        {
            foreach (var share in shares)
            {
                try
                {
                    Collect(ClevisJwe.ParseCompact(share), keyIds, depth + 1);
                }
                catch (ClevisJweException)
                {
                    // Reported by Of as unreadable; no key id to show.
                }
            }
        }
    }
}
