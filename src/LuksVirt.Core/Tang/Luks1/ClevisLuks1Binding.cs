using System.Text;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.Tang.Luks1;

/// <summary>
/// A clevis binding of a LUKS1 container, as <c>clevis luks bind</c> writes it: the compact JWE
/// (no newline) in the LUKSMeta slot with the number of the key slot whose passphrase it holds,
/// under clevis's UUID. Read and written directly in the container's header area.
/// </summary>
internal sealed class ClevisLuks1Binding
{
    /// <summary>cb6e8904-81ff-40da-a84a-07ab9ab5715e, clevis's CLEVIS_UUID, in uuid_parse's byte order.</summary>
    public static readonly IReadOnlyList<byte> ClevisUuid = Convert.FromHexString("cb6e890481ff40daa84a07ab9ab5715e");

    private ClevisLuks1Binding(int keySlot, ClevisJwe jwe)
    {
        KeySlot = keySlot;
        Jwe = jwe;
    }

    public int KeySlot { get; }

    public ClevisJwe Jwe { get; }

    /// <summary>Every clevis binding of the container, by key slot; empty when the container is
    /// not LUKS1 or has no LUKSMeta. A slot whose JWE is malformed throws
    /// <see cref="ClevisJweException"/>; data that fails its checksum <see cref="InvalidDataException"/>.</summary>
    public static IReadOnlyList<ClevisLuks1Binding> ReadAll(SafeFileHandle container)
    {
        if (LuksMeta.Read(container) is not { } meta)
        {
            return [];
        }

        var bindings = new List<ClevisLuks1Binding>();
        for (var slot = 0; slot < LuksMeta.Slots; slot++)
        {
            if (meta.SlotEntries[slot] is { } entry && entry.Uuid.AsSpan().SequenceEqual([.. ClevisUuid]))
            {
                bindings.Add(new ClevisLuks1Binding(slot, ClevisJwe.ParseCompact(Encoding.ASCII.GetString(meta.Load(container, slot)))));
            }
        }

        return bindings;
    }

    /// <summary>
    /// Stores <paramref name="jwe"/> for the active <paramref name="keySlot"/>, writing an empty
    /// LUKSMeta header first if the container has none (as clevis luks bind runs luksmeta init).
    /// Refuses a slot that is not active or whose LUKSMeta slot is in use (unbind it first).
    /// </summary>
    public static void Write(SafeFileHandle container, int keySlot, ClevisJwe jwe)
    {
        ArgumentNullException.ThrowIfNull(jwe);
        var header = Luks1Header.Read(container) ?? throw new InvalidOperationException("the container is not LUKS1; LUKS2 bindings are tokens");
        if (keySlot < 0 || keySlot >= LuksMeta.Slots || !header.ActiveSlots[keySlot])
        {
            throw new InvalidOperationException($"key slot {keySlot} of the LUKS1 container is not active: add the passphrase first");
        }

        var meta = LuksMeta.Read(container) ?? LuksMeta.Initialize(container);
        meta.Save(container, keySlot, [.. ClevisUuid], Encoding.ASCII.GetBytes(jwe.ToCompact()));
    }

    /// <summary>Puts <paramref name="jwe"/> in place of the clevis binding of
    /// <paramref name="keySlot"/>, the old one valid until the new one is in force
    /// (<see cref="LuksMeta.Replace"/>).</summary>
    public static void Replace(SafeFileHandle container, int keySlot, ClevisJwe jwe)
    {
        ArgumentNullException.ThrowIfNull(jwe);
        var meta = LuksMeta.Read(container) ?? throw new InvalidOperationException("the container has no LUKSMeta");
        meta.Replace(container, keySlot, [.. ClevisUuid], Encoding.ASCII.GetBytes(jwe.ToCompact()));
    }

    /// <summary>Removes the clevis binding of <paramref name="keySlot"/> (its data zeroed), as
    /// clevis luks unbind does before killing the key slot.</summary>
    public static void Remove(SafeFileHandle container, int keySlot)
    {
        var meta = LuksMeta.Read(container) ?? throw new InvalidOperationException("the container has no LUKSMeta");
        if (meta.SlotEntries[keySlot] is not { } entry || !entry.Uuid.AsSpan().SequenceEqual([.. ClevisUuid]))
        {
            throw new InvalidOperationException($"LUKSMeta slot {keySlot} holds no clevis binding");
        }

        meta.Wipe(container, keySlot);
    }
}
