using System.Runtime.CompilerServices;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Tang;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.KeySources.Tang;

/// <summary>
/// Keys recovered from Tang servers for the clevis bindings in the headers of the containers in
/// scope (LUKS2 tokens of type <c>clevis</c>, as <c>clevis luks bind</c> writes them). Nobody has
/// to be present: a recovered key is the binding's passphrase, presented for its container and
/// slot only (<see cref="PresentedKey.ForContainer"/>), so it costs exactly one key derivation.
/// </summary>
/// <remarks>
/// Every binding's exchange goes out at once: a dead or slow server costs one timeout for the
/// run, not one per disk. A binding that cannot be recovered (server down, untrusted or garbled
/// answer, a pin this host cannot evaluate) is reported by container and server, and the other
/// disks go on. Nothing of a key is ever written on the host, so there is nothing to wipe.
/// </remarks>
public sealed class TangKeySource(TimeSpan timeout) : IKeySource
{
    public const string SourcePrefix = "tang:";

    /// <summary>How long one request to one server may take (all go out at once).</summary>
    public static TimeSpan DefaultTimeout => TangClient.DefaultTimeout;

    public string Description => "Tang bindings (clevis) in the containers' headers";

    public async IAsyncEnumerable<IKeyPresentation> PresentAsync(KeySourceContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var bindings = context.Containers.SelectMany(ReadBindings).ToList();
        if (bindings.Count == 0)
        {
            yield break;
        }

        using var client = new TangClient(timeout);
        var recoveries = bindings.Select(b => RecoverAsync(b, client, cancellationToken)).ToList();
        var results = await Task.WhenAll(recoveries).ConfigureAwait(false);
        yield return TangPresentation.From(results);
    }

    /// <summary>The clevis bindings of one container (LUKS2 tokens, or LUKSMeta slots on LUKS1);
    /// none for a container whose header cannot be read here (the run reports that container
    /// itself) or that has no binding; a damaged binding is one that reports its problem.</summary>
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

            var tokens = ClevisLuks2Token.ReadAll(device)
                .Select(token => new TangBinding(container.Path, uuid, token.KeySlot, $"clevis token {token.TokenId}", token.Jwe, null));
            var luksMeta = LuksMetaSlots.ReadClevis(device, container.Path)
                .Select(slot => FromLuksMeta(container.Path, uuid, slot.Slot, slot.CompactJwe));
            return [.. tokens, .. luksMeta];
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

    private static TangBinding FromLuksMeta(string path, Guid uuid, int slot, string compactJwe)
    {
        var where = $"LUKSMeta slot {slot}";
        try
        {
            return new TangBinding(path, uuid, slot, where, ClevisJwe.ParseCompact(compactJwe), null);
        }
        catch (ClevisJweException e)
        {
            return new TangBinding(path, uuid, slot, where, null, e.Message);
        }
    }

    private static async Task<TangRecovery> RecoverAsync(TangBinding binding, TangClient client, CancellationToken cancellationToken)
    {
        if (binding.Jwe is not { } jwe)
        {
            return new TangRecovery(binding, null, null, binding.Problem);
        }

        string server;
        try
        {
            server = ClevisTangBinding.Read(jwe).Server.ToString();
        }
        catch (TangException e)
        {
            // Another pin (sss, tpm2): named, and the other disks go on.
            return new TangRecovery(binding, null, null, e.Message);
        }

        try
        {
            var key = await ClevisTangDecrypt.DecryptAsync(jwe, client, cancellationToken).ConfigureAwait(false);
            return new TangRecovery(binding, server, key, null);
        }
        catch (TangException e)
        {
            return new TangRecovery(binding, server, null, e.Message);
        }
    }
}

/// <summary>One clevis binding found in a header: its key slot, where it sits ("clevis token 0",
/// "LUKSMeta slot 1") and its JWE, or the reason it could not be read.</summary>
internal sealed record TangBinding(string ContainerPath, Guid ContainerUuid, int? KeySlot, string Where, ClevisJwe? Jwe, string? Problem);

/// <summary>What became of one binding: the recovered key (owned by whoever takes it) or why not.</summary>
internal sealed record TangRecovery(TangBinding Binding, string? Server, SecretBuffer? Key, string? Problem);
