using System.Runtime.CompilerServices;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Tang;
using LuksVirt.Core.Tang.Luks1;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.KeySources.Tang;

/// <summary>
/// Keys recovered from Tang servers for the clevis bindings in the headers of the containers in
/// scope: LUKS2 tokens of type <c>clevis</c> and, on LUKS1, LUKSMeta slots under clevis's UUID,
/// as <c>clevis luks bind</c> writes them; pins <c>tang</c> and <c>sss</c> (nested as clevis
/// allows). Nobody has to be present: a recovered key is the binding's passphrase, presented for
/// its container and slot only (<see cref="PresentedKey.ForContainer"/>), so it costs exactly one
/// key derivation.
/// </summary>
/// <remarks>
/// Every binding's recovery goes out at once through one <see cref="TangRecoveryCoordinator"/>:
/// a dead or slow server costs one timeout for the run, is remembered so that no other disk waits
/// for it again, and an <c>sss</c> binding completes as soon as its threshold of shares is in. A
/// binding that cannot be recovered (servers down, untrusted or garbled answers, a pin this host
/// cannot evaluate) is reported by container, where it sits and why; the other disks go on.
/// Nothing of a key is ever written on the host, so there is nothing to wipe.
/// </remarks>
public sealed class TangKeySource(TimeSpan timeout) : IKeySource
{
    public const string SourcePrefix = "tang:";

    /// <summary>How long one request to one server may take (all go out at once).</summary>
    public static TimeSpan DefaultTimeout => TangClient.DefaultTimeout;

    public string Description => "Tang bindings (clevis) in the containers' headers";

    /// <summary>What the last round found (null before the first): a service retries while
    /// bindings gave no key (a server not reachable yet) and stops when there is none.</summary>
    public TangRound? LastRound { get; private set; }

    public async IAsyncEnumerable<IKeyPresentation> PresentAsync(KeySourceContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var bindings = context.Containers.SelectMany(ReadBindings).ToList();
        if (bindings.Count == 0)
        {
            LastRound = new TangRound(0, 0);
            yield break;
        }

        using var coordinator = new TangRecoveryCoordinator(timeout);
        var results = await Task.WhenAll(bindings.Select(b => RecoverAsync(b, coordinator, cancellationToken))).ConfigureAwait(false);
        LastRound = new TangRound(bindings.Count, results.Count(r => r.Key is null));
        yield return TangPresentation.From(results);
    }

    /// <summary>The clevis bindings of one container; none for a container whose header cannot be
    /// read here (the run reports that container itself) or that has no binding; a damaged
    /// binding is one that reports its problem.</summary>
    private static IEnumerable<TangBinding> ReadBindings(ContainerInScope container)
    {
        if (!File.Exists(container.Path))
        {
            return [];
        }

        try
        {
            using var device = CryptDevice.Load(container.Path);
            if (!Guid.TryParse(device.Uuid, out var uuid))
            {
                return [];
            }

            if (device.Version == LuksVersion.Luks2)
            {
                return [.. ClevisLuks2Token.ReadAll(device)
                    .Select(token => new TangBinding(container.Path, uuid, token.KeySlot, $"clevis token {token.TokenId}", token.Jwe, null))];
            }

            using var file = File.OpenHandle(container.Path, FileMode.Open, FileAccess.Read);
            return [.. ClevisLuks1Binding.ReadAll(file)
                .Select(binding => new TangBinding(container.Path, uuid, binding.KeySlot, $"LUKSMeta slot {binding.KeySlot}", binding.Jwe, null))];
        }
        catch (Exception e) when (e is ClevisJweException or InvalidDataException)
        {
            return [new TangBinding(container.Path, Guid.Empty, null, "clevis binding", null, e.Message)];
        }
        catch (Exception e) when (e is CryptsetupException or IOException)
        {
            return [];
        }
    }

    private static async Task<TangRecovery> RecoverAsync(TangBinding binding, TangRecoveryCoordinator coordinator, CancellationToken cancellationToken)
    {
        if (binding.Jwe is not { } jwe)
        {
            return new TangRecovery(binding, null, null, binding.Problem);
        }

        try
        {
            var result = await coordinator.RecoverAsync(jwe, binding.Where, cancellationToken).ConfigureAwait(false);
            return new TangRecovery(binding, string.Join(',', result.AnsweringServers), result.Key, null);
        }
        catch (TangException e)
        {
            // Servers down, answers refused, a pin this host cannot evaluate: named, and the
            // other disks go on.
            return new TangRecovery(binding, null, null, e.Message);
        }
    }
}

/// <summary>One round of a <see cref="TangKeySource"/>: the bindings found on the containers in
/// scope, and how many of them gave no key.</summary>
public sealed record TangRound(int Bindings, int Unrecovered);

/// <summary>One clevis binding found in a header: its key slot, where it sits ("clevis token 0",
/// "LUKSMeta slot 1") and its JWE, or the reason it could not be read.</summary>
internal sealed record TangBinding(string ContainerPath, Guid ContainerUuid, int? KeySlot, string Where, ClevisJwe? Jwe, string? Problem);

/// <summary>What became of one binding: the recovered key (owned by whoever takes it) and the
/// servers that answered, or why not.</summary>
internal sealed record TangRecovery(TangBinding Binding, string? Server, SecretBuffer? Key, string? Problem);
