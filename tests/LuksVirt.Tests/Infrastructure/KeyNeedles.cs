using System.Text;

namespace LuksVirt.Tests.Infrastructure;

/// <summary>The forms a leaked key could take (raw, hex in either case, base64), each named by
/// its holder and form, for the scanners that look for keys where they must never be.</summary>
public static class KeyNeedles
{
    public static List<(string Form, byte[] Needle)> Of(IEnumerable<TestKey> keys)
    {
        var needles = new List<(string Form, byte[] Needle)>();
        foreach (var key in keys)
        {
            var raw = key.Secret.Span.ToArray();
            needles.Add(($"{key.Holder} raw", raw));
            needles.Add(($"{key.Holder} hex", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(raw))));
            needles.Add(($"{key.Holder} HEX", Encoding.ASCII.GetBytes(Convert.ToHexString(raw))));
            needles.Add(($"{key.Holder} base64", Encoding.ASCII.GetBytes(Convert.ToBase64String(raw))));
        }

        return needles;
    }
}
