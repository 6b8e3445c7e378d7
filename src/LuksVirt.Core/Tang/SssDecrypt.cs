using System.Buffers.Text;
using System.Security.Cryptography;
using LuksVirt.Interop.OpenSsl;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Tang;

/// <summary>
/// Opens a JWE written by <c>clevis encrypt sss</c> (or <see cref="SssEncrypt"/>): the header's
/// <c>clevis.sss</c> holds the prime <c>p</c>, the threshold <c>t</c> and one compact JWE per
/// share, each share's plaintext a point x||y of the polynomial whose constant term is the
/// content key (alg dir, enc A256GCM). All shares are recovered in parallel (nested pins through
/// the <see cref="TangRecoveryCoordinator"/>); as soon as <c>t</c> are in, the others are
/// cancelled and not awaited, so a dead or slow server costs nothing when enough others answer.
/// Shares, the content key and the plaintext live only in SecretBuffers (and OpenSSL's cleansed
/// memory) and are zeroed.
/// </summary>
internal static class SssDecrypt
{
    public const string PinName = "sss";

    /// <summary>clevis's prime is 32 bytes; the content key is the interpolated secret, and
    /// A256GCM needs exactly that.</summary>
    public const int PrimeBytes = 32;

    public static async Task<TangRecoveryResult> DecryptAsync(ClevisJwe jwe, TangRecoveryCoordinator coordinator, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(jwe);
        ArgumentNullException.ThrowIfNull(coordinator);
        var (threshold, prime, shares) = ReadHeader(jwe);
        var points = new SecretBuffer?[shares.Count];
        using var stopOthers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pending = new Dictionary<Task<TangRecoveryResult>, int>();
        var nestedReports = new List<TangPinReport>[shares.Count];
        try
        {
            for (var i = 0; i < shares.Count; i++)
            {
                nestedReports[i] = [];
                var sharePath = $"{path}.sss.jwe[{i}]";
                try
                {
                    var share = ClevisJwe.ParseCompact(shares[i]);
                    pending.Add(coordinator.RecoverAsync(share, sharePath, stopOthers.Token), i);
                }
                catch (ClevisJweException e)
                {
                    nestedReports[i].Add(new TangPinReport(sharePath, "(unreadable)", null, TangPinOutcome.Failed, e.Message));
                }
            }

            var recovered = 0;
            while (recovered < threshold && pending.Count > 0)
            {
                var done = await Task.WhenAny(pending.Keys).ConfigureAwait(false);
                var index = pending[done];
                pending.Remove(done);
                var sharePath = $"{path}.sss.jwe[{index}]";
                try
                {
                    using var result = await done.ConfigureAwait(false);
                    nestedReports[index].AddRange(result.Pins);
                    if (result.Key.Length != 2 * prime.Length)
                    {
                        nestedReports[index].Add(new TangPinReport(sharePath, "(share)", null, TangPinOutcome.Failed, $"the share is {result.Key.Length} bytes, not the {2 * prime.Length} of a point: it was altered or belongs to another binding"));
                        continue;
                    }

                    points[index] = SecretBuffer.CopyOf(result.Key.Span);
                    recovered++;
                }
                catch (UnsupportedClevisPinException e)
                {
                    nestedReports[index].Add(new TangPinReport(sharePath, e.Pin, null, TangPinOutcome.Unsupported, e.Message));
                }
                catch (SssThresholdException e)
                {
                    nestedReports[index].AddRange(e.Pins);
                }
                catch (TangException e)
                {
                    nestedReports[index].Add(new TangPinReport(sharePath, PinOf(shares[index]), ServerOf(shares[index]), TangPinOutcome.Failed, e.Message));
                }
            }

            foreach (var index in pending.Values)
            {
                nestedReports[index].Add(new TangPinReport($"{path}.sss.jwe[{index}]", PinOf(shares[index]), ServerOf(shares[index]), TangPinOutcome.NotAwaited));
            }

            var all = nestedReports.SelectMany(r => r).ToList();
            if (recovered < threshold)
            {
                throw new SssThresholdException(
                    $"only {recovered} of the {threshold} shares needed could be recovered: {string.Join("; ", all)}", all);
            }

            return new TangRecoveryResult(Combine(jwe, prime, points), all);
        }
        finally
        {
            // Whatever is still running (enough shares are in, or the caller gave up) is
            // cancelled and left to finish on its own; a key it may still produce is zeroed.
            await stopOthers.CancelAsync().ConfigureAwait(false);
            foreach (var task in pending.Keys)
            {
                _ = DisposeWhenDoneAsync(task);
            }

            foreach (var point in points)
            {
                point?.Dispose();
            }
        }
    }

    /// <summary>The threshold, the prime and the shares' compact JWEs, checked as
    /// clevis-decrypt-sss checks them (and a little more: the count against the threshold).</summary>
    private static (int Threshold, byte[] Prime, List<string> Shares) ReadHeader(ClevisJwe jwe)
    {
        var header = jwe.Header;
        if (header.Clevis?.Pin != PinName)
        {
            throw new ClevisJweException($"the JWE is for the clevis pin '{EcPublicJwk.Printable(header.Clevis?.Pin)}', not 'sss'");
        }

        if (header.Alg != "dir" || header.Enc != ConcatKdf.A256Gcm)
        {
            throw new ClevisJweException($"the JWE uses alg '{EcPublicJwk.Printable(header.Alg)}' and enc '{EcPublicJwk.Printable(header.Enc)}'; clevis's sss pin writes dir and A256GCM");
        }

        if (header.Clevis.Sss is not { T: { } threshold, P: { } primeText, Jwe: { } shares })
        {
            throw new ClevisJweException("the JWE lacks clevis.sss's t, p or jwe");
        }

        byte[] prime;
        try
        {
            prime = Base64Url.DecodeFromChars(primeText);
        }
        catch (FormatException e)
        {
            throw new ClevisJweException("the JWE's prime (clevis.sss.p) is not base64url", e);
        }

        if (prime.Length != PrimeBytes)
        {
            throw new ClevisJweException($"the JWE's prime (clevis.sss.p) is {prime.Length} bytes; clevis writes {PrimeBytes}, the length of an A256GCM key");
        }

        if (threshold < 1 || threshold > shares.Count)
        {
            throw new ClevisJweException($"the JWE's threshold (clevis.sss.t) is {threshold} with {shares.Count} shares: it can never open");
        }

        return (threshold, prime, shares);
    }

    /// <summary>Synchronous on purpose: the spans of the secrets never cross an await.</summary>
    private static SecretBuffer Combine(ClevisJwe jwe, byte[] prime, SecretBuffer?[] points)
    {
        var chosen = points.Where(p => p is not null).Select(p => p!).ToList();
        var length = 2 * prime.Length;
        using var all = SecretBuffer.Allocate(chosen.Count * length);
        for (var i = 0; i < chosen.Count; i++)
        {
            chosen[i].Span.CopyTo(all.WritableSpan[(i * length)..]);
        }

        using var contentKey = SecretBuffer.Allocate(prime.Length);
        try
        {
            ShamirPrimeField.Recover(prime, all.Span, contentKey.WritableSpan);
        }
        catch (CryptographicException e)
        {
            throw new ClevisJweException($"the shares do not combine: {e.Message}", e);
        }

        return jwe.Open(contentKey.Span, "the key combined from the shares does not open the JWE: the JWE or a share was altered");
    }

    /// <summary>A cancelled recovery may still finish with a key: it is zeroed, and its failure
    /// observed, without anybody waiting for it.</summary>
    private static async Task DisposeWhenDoneAsync(Task<TangRecoveryResult> recovery)
    {
        try
        {
            using var result = await recovery.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TangException)
        {
            // Not needed any more: enough other shares were recovered.
        }
    }

    private static string PinOf(string compact)
    {
        try
        {
            return EcPublicJwk.Printable(ClevisJwe.ParseCompact(compact).Header.Clevis?.Pin);
        }
        catch (ClevisJweException)
        {
            return "(unreadable)";
        }
    }

    private static string? ServerOf(string compact)
    {
        try
        {
            var jwe = ClevisJwe.ParseCompact(compact);
            return jwe.Header.Clevis?.Pin == ClevisTangBinding.PinName ? ClevisTangBinding.Read(jwe).Server.Text : null;
        }
        catch (ClevisJweException)
        {
            return null;
        }
    }
}
