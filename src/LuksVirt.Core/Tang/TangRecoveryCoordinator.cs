using System.Collections.Concurrent;

namespace LuksVirt.Core.Tang;

/// <summary>
/// Recovers the keys of clevis bindings (tang, sss nested as clevis allows) for one run: every
/// caller may start its recoveries at once (the requests of all bindings go out in parallel, each
/// with the client's per-request deadline and no retry), and a server that could not be reached
/// or did not answer as Tang does is remembered, so later bindings of the run fail over it at
/// once instead of waiting for its deadline again. Thread-safe; one instance per run.
/// </summary>
internal sealed class TangRecoveryCoordinator : IDisposable
{
    private readonly TangClient _client;
    private readonly ConcurrentDictionary<string, string> _failedServers = new(StringComparer.Ordinal);

    public TangRecoveryCoordinator(TimeSpan? requestTimeout = null)
    {
        _client = new TangClient(requestTimeout);
    }

    /// <summary>The servers that failed in this run so far, with why (URLs and messages only).</summary>
    public IReadOnlyDictionary<string, string> FailedServers => _failedServers;

    /// <summary>
    /// The key of a clevis JWE: a tang pin recovered with its server, an sss pin from the first
    /// <c>t</c> of its shares (<see cref="SssDecrypt"/>). A pin that cannot be evaluated here
    /// throws <see cref="UnsupportedClevisPinException"/>; other failures are
    /// <see cref="TangException"/>s.
    /// </summary>
    public Task<TangRecoveryResult> RecoverAsync(ClevisJwe jwe, CancellationToken cancellationToken) =>
        RecoverAsync(jwe, "jwe", cancellationToken);

    public void Dispose() => _client.Dispose();

    internal async Task<TangRecoveryResult> RecoverAsync(ClevisJwe jwe, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(jwe);
        var pin = jwe.Header.Clevis?.Pin;
        switch (pin)
        {
            case ClevisTangBinding.PinName:
                var server = ClevisTangBinding.Read(jwe).Server;
                var key = await DecryptTangAsync(jwe, server, cancellationToken).ConfigureAwait(false);
                return new TangRecoveryResult(key, [new TangPinReport(path, pin, server.Text, TangPinOutcome.Recovered)]);
            case SssDecrypt.PinName:
                return await SssDecrypt.DecryptAsync(jwe, this, path, cancellationToken).ConfigureAwait(false);
            default:
                throw new UnsupportedClevisPinException(pin ?? "(none)");
        }
    }

    private async Task<LuksVirt.Interop.Secrets.SecretBuffer> DecryptTangAsync(ClevisJwe jwe, TangServerUrl server, CancellationToken cancellationToken)
    {
        if (_failedServers.TryGetValue(server.Text, out var earlier))
        {
            throw new TangServerUnreachableException($"the Tang server {server} was not asked again: it failed earlier in this run ({earlier})");
        }

        try
        {
            return await ClevisTangDecrypt.DecryptAsync(jwe, _client, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TangServerUnreachableException or TangProtocolException)
        {
            // Key-not-found and a JWE that does not open are the binding's fault, not the server's:
            // only these two say the server itself is of no use for the rest of the run.
            _failedServers.TryAdd(server.Text, e.Message);
            throw;
        }
    }
}
