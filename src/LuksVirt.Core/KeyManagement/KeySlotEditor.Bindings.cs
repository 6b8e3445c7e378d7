using System.Globalization;
using System.Text.Json;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Headers;
using LuksVirt.Core.Holders;
using LuksVirt.Core.Tang;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.KeyManagement;

public sealed partial class KeySlotEditor
{
    /// <summary>The clevis bindings (tang, sss...) of the container as it is now, in clevis's
    /// formats; a binding that cannot be read is listed with its problem.</summary>
    public IReadOnlyList<ClevisBindingInfo> ListBindings()
    {
        Reload();
        return ClevisBindingStore.Describe(_device, ContainerPath);
    }

    /// <summary>For a LUKS1 container without room for LUKSMeta: why clevis bindings cannot be
    /// stored, with the fix; null otherwise.</summary>
    public string? ClevisRoomProblem => ClevisBindingStore.RoomProblem(_device, ContainerPath);

    /// <summary>
    /// <c>keys bind</c>: a new random key (in a SecretBuffer only) in a free slot, encrypted with
    /// <paramref name="pin"/> (tang or sss, clevis's <paramref name="configuration"/>) and stored as
    /// clevis stores it. Every server is asked and every advertisement verified before the header
    /// is touched; <paramref name="confirm"/> is asked about servers nobody vouched for (no
    /// <c>thp</c>) and must return true, or nothing is changed. A failure after the slot was added
    /// rolls the header back whole.
    /// </summary>
    public async Task<ClevisBindingChange> BindAsync(
        SecretBuffer authorisingKey,
        string pin,
        string configuration,
        string? holder,
        Func<IReadOnlyList<TangServerToConfirm>, bool> confirm,
        TimeSpan? requestTimeout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(confirm);
        if (holder is not null)
        {
            RequireHolderName(holder);
        }

        // What can be refused here is refused before any server is asked.
        if (ClevisRoomProblem is { } noRoom)
        {
            throw new ContainerRefusedException(noRoom);
        }

        RequireBindableSlot(holder);
        RequireAuthorisingKey(authorisingKey);

        using var client = new TangClient(requestTimeout);
        var plan = await PlanAsync(() => ClevisPinPlan.ForBindAsync(pin, ParseConfiguration(configuration), client, cancellationToken)).ConfigureAwait(false);
        RequireConfirmation(plan, confirm);
        using var key = SecretBuffer.GeneratePrintableKey(NewKey.GeneratedKeyCharacters);
        var jwe = await EncryptAsync(plan, key, client, cancellationToken).ConfigureAwait(false);
        return WriteNewBinding(authorisingKey, key, jwe, holder);
    }

    /// <summary>
    /// <c>keys unbind</c>: removes the clevis binding of <paramref name="slot"/>, then the slot
    /// (a binding whose slot is already gone is just removed).
    /// Refuses a slot without a binding and the last active slot; with an
    /// <paramref name="authorisingKey"/>, refuses one that opens only this slot, and checks that
    /// it still opens afterwards.
    /// </summary>
    public ClevisBindingChange Unbind(int slot, SecretBuffer? authorisingKey)
    {
        RequireSlotInRange(slot);
        using var editLock = AcquireEditLock();
        var slots = ListLoadedSlots();
        var binding = BindingOf(slot);
        if (slots[slot].IsActive && slots.Count(s => s.IsActive) == 1)
        {
            throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"key slot {slot} is the last active key slot of {ContainerPath}; removing it would make the data unreadable forever. Add another key first ('luksvirt keys add')"));
        }

        if (authorisingKey is not null && RequireAuthorisingKey(authorisingKey) == slot)
        {
            throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"the authorising key opens key slot {slot}, the one to be removed; authorise with a key of another slot, so that a key known to work is left"));
        }

        var holder = slots[slot].Holder;
        return RunChange(authorisingKey, pending =>
        {
            ClevisBindingStore.Remove(_device, ContainerPath, binding);
            // A binding left for a slot that is already gone (another tool killed it) is only removed.
            if (slots[slot].IsUsed)
            {
                _device.DestroySlot(slot);
                AfterStep(HeaderChangeStep.DestroySlot);
                Forget(pending, slot, holder);
            }

            if (authorisingKey is not null)
            {
                RequireAuthorisingKey(authorisingKey);
            }

            return new ClevisBindingChange(ContainerPath, slot, holder?.Holder, ClevisPinDescription.Of(binding.Jwe), binding.Location);
        });
    }

    /// <summary>
    /// <c>keys rebind</c>, after a Tang key rotation: recovers the key of <paramref name="slot"/>
    /// through its servers, proves it opens that slot, and writes a new binding with the servers'
    /// current advertisements in place of the old one, which stays valid until the new one is
    /// written (<see cref="ClevisBindingStore.Replace"/>). A server's new advertisement is trusted
    /// when its former signing key signed it too; otherwise <paramref name="confirm"/> is asked.
    /// </summary>
    public async Task<ClevisBindingChange> RebindAsync(
        int slot,
        Func<IReadOnlyList<TangServerToConfirm>, bool> confirm,
        TimeSpan? requestTimeout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(confirm);
        RequireSlotInRange(slot);
        Reload();
        var old = BindingOf(slot);

        using var coordinator = new TangRecoveryCoordinator(requestTimeout);
        using var recovered = await PlanAsync(() => coordinator.RecoverAsync(old.Jwe, cancellationToken)).ConfigureAwait(false);
        using var client = new TangClient(requestTimeout);
        var plan = await PlanAsync(() => ClevisPinPlan.ForRebindAsync(old.Jwe, client, cancellationToken)).ConfigureAwait(false);
        RequireConfirmation(plan, confirm);
        var jwe = await EncryptAsync(plan, recovered.Key, client, cancellationToken).ConfigureAwait(false);

        using var editLock = AcquireEditLock();
        var current = BindingOf(slot);
        if (current.Jwe.ToCompact() != old.Jwe.ToCompact())
        {
            throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"the binding of key slot {slot} of {ContainerPath} changed while LuksVirt was rebinding it; run the command again"));
        }

        if (_device.TestKey(recovered.Key.Span, slot) != slot)
        {
            throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"the key recovered through the binding of key slot {slot} does not open that slot; nothing was changed"));
        }

        var holder = ListLoadedSlots()[slot].Holder?.Holder;
        return RunChange(recovered.Key, _ =>
        {
            var location = ClevisBindingStore.Replace(_device, ContainerPath, old, jwe);
            RequireStored(slot, jwe);
            return new ClevisBindingChange(ContainerPath, slot, holder, ClevisPinDescription.Of(jwe), location)
            {
                OldKeyIds = ClevisPinDescription.KeyIdsOf(old.Jwe),
                NewKeyIds = ClevisPinDescription.KeyIdsOf(jwe),
            };
        });
    }

    private ClevisBindingChange WriteNewBinding(SecretBuffer authorisingKey, SecretBuffer key, ClevisJwe jwe, string? holder)
    {
        using var editLock = AcquireEditLock();
        // The authorising key was checked before the servers were asked; AddKey checks it again.
        var target = RequireBindableSlot(holder);
        var record = holder is null ? null : NewRecord(holder, HolderKeyKind.Generated);
        return RunChange(authorisingKey, pending =>
        {
            Enrol(authorisingKey, key, target, NewKey.Unwritten);
            var location = ClevisBindingStore.Write(_device, ContainerPath, target, jwe);
            RequireStored(target, jwe);
            if (record is not null)
            {
                Record(pending, target, record);
            }

            return new ClevisBindingChange(ContainerPath, target, holder, ClevisPinDescription.Of(jwe), location);
        });
    }

    /// <summary>The free slot a new binding goes to; refuses a holder who holds one already.</summary>
    private int RequireBindableSlot(string? holder)
    {
        var slots = ListLoadedSlots();
        if (holder is not null && SlotsHeldBy(slots, holder) is [var existing, ..])
        {
            throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"\"{holder}\" already holds key slot {existing.Slot} of {ContainerPath}: choose another holder name, or leave out --holder"));
        }

        return FirstFreeSlot(slots, "bind a key to a pin");
    }

    private StoredClevisBinding BindingOf(int slot)
    {
        IReadOnlyList<StoredClevisBinding> bindings;
        try
        {
            bindings = ClevisBindingStore.ReadAll(_device, ContainerPath);
        }
        catch (Exception e) when (e is ClevisJweException or InvalidDataException)
        {
            throw new ContainerRefusedException($"the clevis bindings of {ContainerPath} cannot be read: {e.Message}", e);
        }

        return bindings.FirstOrDefault(b => b.KeySlot == slot)
            ?? throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"key slot {slot} of {ContainerPath} has no clevis binding; see 'luksvirt keys list --container {ContainerPath}' (a slot without one is removed with 'luksvirt keys remove --slot {slot}')"));
    }

    /// <summary>Checked, not assumed: the binding reads back as written, for the slot it names.</summary>
    private void RequireStored(int slot, ClevisJwe jwe)
    {
        if (!ClevisBindingStore.ReadAll(_device, ContainerPath).Any(b => b.KeySlot == slot && b.Jwe.ToCompact() == jwe.ToCompact()))
        {
            throw new IOException(string.Create(CultureInfo.InvariantCulture, $"{ContainerPath}: the clevis binding of key slot {slot} does not read back as written"));
        }
    }

    private static void RequireConfirmation(ClevisPinPlan plan, Func<IReadOnlyList<TangServerToConfirm>, bool> confirm)
    {
        if (plan.Unconfirmed.Count > 0 && !confirm(plan.Unconfirmed))
        {
            throw new ContainerRefusedException("the Tang servers' signing keys were not confirmed; nothing was changed");
        }
    }

    private static JsonElement ParseConfiguration(string configuration)
    {
        try
        {
            using var document = JsonDocument.Parse(configuration);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ContainerRefusedException($"the pin configuration is not JSON ({e.Message}); give it as clevis takes it, e.g. '{{\"url\":\"http://tang.example\",\"thp\":\"...\"}}'", e);
        }
    }

    private static async Task<ClevisJwe> EncryptAsync(ClevisPinPlan plan, SecretBuffer key, TangClient client, CancellationToken cancellationToken) =>
        await PlanAsync(() => plan.EncryptAsync(key, client, cancellationToken)).ConfigureAwait(false);

    /// <summary>Network and configuration failures, turned into the two kinds the commands report:
    /// a configuration or pin that cannot work is refused; a server that fails is a failure.
    /// Either way nothing was changed yet.</summary>
    private static async Task<T> PlanAsync<T>(Func<Task<T>> step)
    {
        try
        {
            return await step().ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw new ContainerRefusedException($"{e.Message}; nothing was changed", e);
        }
        catch (UnsupportedClevisPinException e)
        {
            throw new ContainerRefusedException($"{e.Message}; LuksVirt binds and rebinds only tang and sss pins; nothing was changed", e);
        }
        catch (TangException e)
        {
            throw new ClevisBindingException($"{e.Message}; nothing was changed", e);
        }
    }
}
