namespace LuksVirt.Core.Tang;

/// <summary>
/// A Tang server's base URL as clevis keeps it in a binding (<c>clevis.tang.url</c>): http or
/// https, no credentials, query or fragment. The text is kept as the administrator wrote it, so a
/// binding LuksVirt writes says what clevis's would; requests append <c>/adv</c> or
/// <c>/rec/KID</c> to it as clevis does.
/// </summary>
internal sealed class TangServerUrl
{
    private TangServerUrl(string text) => Text = text;

    public string Text { get; }

    /// <summary><see cref="FormatException"/> naming the problem when <paramref name="text"/> is not
    /// a usable server URL.</summary>
    public static TangServerUrl Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || !Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            throw new FormatException($"'{EcPublicJwk.Printable(text)}' is not an absolute URL such as http://tang.example:7500");
        }

        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new FormatException($"the Tang URL '{EcPublicJwk.Printable(text)}' is not http or https");
        }

        if (uri.UserInfo.Length != 0 || uri.Query.Length != 0 || uri.Fragment.Length != 0)
        {
            throw new FormatException($"the Tang URL '{EcPublicJwk.Printable(text)}' has credentials, a query or a fragment; give only scheme, host, port and path");
        }

        return new TangServerUrl(text);
    }

    /// <summary>The advertisement, signed also by the key <paramref name="thumbprint"/> when given.</summary>
    public Uri Advertisement(string? thumbprint) => Resource(thumbprint is null ? "/adv" : $"/adv/{RequireThumbprint(thumbprint)}");

    public Uri Recovery(string keyId) => Resource($"/rec/{RequireThumbprint(keyId)}");

    public override string ToString() => Text;

    /// <summary>A thumbprint is base64url; anything else would change the path it is put in.</summary>
    internal static string RequireThumbprint(string thumbprint)
    {
        if (thumbprint.Length is 0 or > 128 || !thumbprint.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new FormatException($"'{EcPublicJwk.Printable(thumbprint)}' is not a key thumbprint (base64url)");
        }

        return thumbprint;
    }

    private Uri Resource(string path) => new(Text.TrimEnd('/') + path, UriKind.Absolute);
}
