using System.Net;
using System.Net.Http.Headers;
using System.Security.Authentication;
using System.Text.Json;
using LuksVirt.Interop.OpenSsl;

namespace LuksVirt.Core.Tang;

/// <summary>
/// Talks to Tang servers over HTTP or HTTPS: fetches advertisements and sends recovery requests.
/// Each request has one deadline (connect, send and read together) and no retry, so a dead server
/// costs at most that; redirects are refused (a binding names its server, and another host must
/// not answer for it) and replies are bounded in size. Nothing sent or received is secret: the
/// request point is blinded, the reply is useless without the client's scalar.
/// </summary>
internal sealed class TangClient : IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A Tang advertisement with a dozen keys is a few KiB; a reply to a recovery less
    /// than one.</summary>
    public const int MaxReplyBytes = 64 * 1024;

    private static readonly MediaTypeHeaderValue JwkMediaType = new("application/jwk+json");

    private readonly HttpClient _http;

    public TangClient(TimeSpan? timeout = null)
    {
        Timeout = timeout ?? DefaultTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Timeout, TimeSpan.Zero, nameof(timeout));
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = Timeout,
            MaxResponseHeadersLength = 16,
            UseCookies = false,
            // A binding names its server; an environment variable must not reroute unlocks.
            UseProxy = false,
        };
        _http = new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }

    public TimeSpan Timeout { get; }

    /// <summary>
    /// Fetches and verifies the advertisement of <paramref name="server"/>. With a
    /// <paramref name="trustedThumbprint"/>, asks for the advertisement that key signs
    /// (<c>/adv/THP</c>, as clevis does) and refuses it unless that key signed it; without one, the
    /// caller must have the administrator confirm <see cref="TangAdvertisement.SigningKeyThumbprints"/>.
    /// </summary>
    public async Task<TangAdvertisement> FetchAdvertisementAsync(TangServerUrl server, string? trustedThumbprint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        using var request = new HttpRequestMessage(HttpMethod.Get, server.Advertisement(trustedThumbprint));
        var body = await SendAsync(request, server, "the advertisement", NoSuchSigningKey, cancellationToken).ConfigureAwait(false);
        var advertisement = TangAdvertisement.Parse(body, server.Text);
        if (trustedThumbprint is not null)
        {
            advertisement.RequireSignedBy(trustedThumbprint, server.Text);
        }

        return advertisement;
    }

    /// <summary>
    /// The current advertisement of <paramref name="server"/> as signed by
    /// <paramref name="formerSigningKey"/> (<c>/adv/THP</c>; Tang also signs with a rotated key
    /// that it keeps hidden). Throws <see cref="TangUntrustedAdvertisementException"/> when the
    /// server no longer has that key or the signature does not verify.
    /// </summary>
    public async Task<TangAdvertisement> FetchAdvertisementVouchedForAsync(TangServerUrl server, EcPublicJwk formerSigningKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(formerSigningKey);
        var thumbprint = formerSigningKey.Thumbprint(System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var request = new HttpRequestMessage(HttpMethod.Get, server.Advertisement(thumbprint));
        var body = await SendAsync(request, server, "the advertisement", NoSuchSigningKey, cancellationToken).ConfigureAwait(false);
        var advertisement = TangAdvertisement.Parse(body, server.Text);
        return advertisement.IsVouchedForBy(formerSigningKey)
            ? advertisement
            : throw new TangUntrustedAdvertisementException($"the advertisement from {server} is not signed by its former signing key {thumbprint}");
    }

    /// <summary>Sends the blinded point of a McCallum-Relyea recovery to the exchange key
    /// <paramref name="keyId"/> and returns the server's answer (checked to be an EC public key on
    /// the request's curve; whether it is on the curve is checked where it is used).</summary>
    public async Task<EcPublicJwk> RecoverAsync(TangServerUrl server, string keyId, EcPublicJwk blindedPoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(blindedPoint);
        using var request = new HttpRequestMessage(HttpMethod.Post, server.Recovery(keyId));
        request.Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(blindedPoint.ToDocument(), JoseJsonContext.Default.JwkDocument));
        request.Content.Headers.ContentType = JwkMediaType;
        var body = await SendAsync(request, server, $"the recovery with key {keyId}", NoSuchExchangeKey, cancellationToken).ConfigureAwait(false);
        try
        {
            var reply = EcPublicJwk.FromDocument(JsonSerializer.Deserialize(body, JoseJsonContext.Default.JwkDocument));
            if (reply.Curve != blindedPoint.Curve)
            {
                throw new FormatException($"the key is on {EcCurve.Describe(reply.Curve)}, the request was on {EcCurve.Describe(blindedPoint.Curve)}");
            }

            return reply;
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            throw new TangProtocolException($"the Tang server {server} answered the recovery with something other than a key: {e.Message}", e);
        }
    }

    public void Dispose() => _http.Dispose();

    /// <param name="notFound">What HTTP 404 means for this request: Tang answers it when it has no
    /// key with the thumbprint in the path.</param>
    private async Task<byte[]> SendAsync(HttpRequestMessage request, TangServerUrl server, string what, Func<TangServerUrl, string, TangException> notFound, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            RequireSuccess(response, server, what, notFound);
            if (response.Content.Headers.ContentLength > MaxReplyBytes)
            {
                throw TooLarge(server, what);
            }

            var stream = await response.Content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                return await ReadBoundedAsync(stream, server, what, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TangServerUnreachableException($"the Tang server {server} did not answer {what} within {Timeout.TotalSeconds:0.#} s: check that it runs and that this host reaches it", e);
        }
        catch (HttpRequestException e) when (e.InnerException is AuthenticationException)
        {
            throw new TangServerUnreachableException($"the Tang server {server} could not be reached over TLS ({e.InnerException.Message}): check its certificate and that this host trusts its issuer", e);
        }
        catch (HttpRequestException e)
        {
            throw new TangServerUnreachableException($"the Tang server {server} could not be reached for {what} ({e.Message}): check that it runs and that this host reaches it", e);
        }
    }

    private static void RequireSuccess(HttpResponseMessage response, TangServerUrl server, string what, Func<TangServerUrl, string, TangException> notFound)
    {
        var status = (int)response.StatusCode;
        if (status is >= 300 and < 400)
        {
            var target = response.Headers.Location is { } location ? $" to {EcPublicJwk.Printable(location.ToString())}" : string.Empty;
            throw new TangProtocolException($"the Tang server {server} redirects {what}{target}; redirects are not followed: bind to the server's own URL");
        }

        if (status == (int)HttpStatusCode.NotFound)
        {
            throw notFound(server, what);
        }

        if (status is < 200 or >= 300)
        {
            throw new TangProtocolException($"the Tang server {server} refused {what} with HTTP {status}: check that the URL is a Tang server's");
        }
    }

    private static TangException NoSuchSigningKey(TangServerUrl server, string what) =>
        new TangUntrustedAdvertisementException($"the Tang server {server} has no signing key with the trusted thumbprint (HTTP 404 for {what}): check the thumbprint with the server's administrator (`tang-show-keys` on the server, or `jose jwk thp -i KEY.jwk` in its key directory)");

    private static TangException NoSuchExchangeKey(TangServerUrl server, string what) =>
        new TangKeyNotFoundException($"the Tang server {server} does not hold the key of {what} (HTTP 404): the binding was made for another server, or the key was removed from this one; rebind with the server's current advertisement");

    private static async Task<byte[]> ReadBoundedAsync(Stream stream, TangServerUrl server, string what, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxReplyBytes + 1];
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return buffer[..total];
            }

            total += read;
        }

        throw TooLarge(server, what);
    }

    private static TangProtocolException TooLarge(TangServerUrl server, string what) =>
        new($"the Tang server {server} sent more than {MaxReplyBytes} bytes for {what}; a Tang reply is a few KiB: check that the URL is a Tang server's");
}
