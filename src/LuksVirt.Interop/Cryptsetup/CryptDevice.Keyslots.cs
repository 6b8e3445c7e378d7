namespace LuksVirt.Interop.Cryptsetup;

public sealed partial class CryptDevice
{
    /// <summary>Formats with a fresh random volume key and puts <paramref name="firstKey"/> in
    /// <paramref name="firstSlot"/> using <see cref="LuksFormatOptions.Pbkdf"/>. Returns the slot.
    /// Overwrites whatever the device holds: callers refuse non-empty targets first.</summary>
    /// <remarks><see cref="LuksFormatOptions.Hash"/> is the LUKS1 header hash; a LUKS2 header
    /// takes its hash from the PBKDF settings. LUKS2 data alignment and sector size are
    /// libcryptsetup's defaults.</remarks>
    public unsafe int Format(LuksFormatOptions options, ReadOnlySpan<byte> firstKey, int firstSlot = AnySlot)
    {
        ArgumentNullException.ThrowIfNull(options);
        RequireKey(firstKey, nameof(firstKey));
        var handle = Handle;

        using var nativePbkdf = options.Pbkdf is null ? default : NativePbkdf.ForKeySlots(options.Pbkdf);
        var pbkdf = nativePbkdf.Value;
        if (options.Pbkdf is not null)
        {
            // Before crypt_format: LUKS1 derives its volume key digest with this cost too.
            SetPbkdf(&pbkdf);
        }

        using var hash = new NativeUtf8String(options.Hash);
        int result;
        CryptsetupLog.BeginCall();
        if (options.Version == LuksVersion.Luks1)
        {
            var parameters = new Interop.Cryptsetup.CryptParamsLuks1 { Hash = hash.Pointer, DataAlignment = checked((nuint)options.Luks1PayloadAlignmentSectors) };
            result = Interop.Cryptsetup.Format(handle, Interop.Cryptsetup.TypeLuks1, options.Cipher, options.CipherMode, null, null, (nuint)options.VolumeKeyBytes, &parameters);
        }
        else
        {
            var parameters = new Interop.Cryptsetup.CryptParamsLuks2 { Pbkdf = options.Pbkdf is null ? null : &pbkdf };
            result = Interop.Cryptsetup.Format(handle, Interop.Cryptsetup.TypeLuks2, options.Cipher, options.CipherMode, null, null, (nuint)options.VolumeKeyBytes, &parameters);
        }

        if (result < 0)
        {
            throw CryptsetupErrors.Create("crypt_format", result, DevicePath);
        }

        fixed (byte* key = firstKey)
        {
            // A NULL volume key means the one crypt_format just generated and cached.
            CryptsetupLog.BeginCall();
            result = Interop.Cryptsetup.KeyslotAddByVolumeKey(handle, firstSlot, null, 0, key, (nuint)firstKey.Length);
        }

        return result >= 0 ? result : throw CryptsetupErrors.Create("crypt_keyslot_add_by_volume_key", result, SlotSubject(firstSlot));
    }

    /// <summary>PBKDF for slots added from now on (crypt_set_pbkdf_type).</summary>
    public unsafe void SetPbkdf(PbkdfSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var nativePbkdf = NativePbkdf.ForKeySlots(settings);
        var pbkdf = nativePbkdf.Value;
        SetPbkdf(&pbkdf);
    }

    /// <summary>Adds <paramref name="newKey"/> authorised by <paramref name="existingKey"/>. Returns the slot.
    /// Throws <see cref="WrongKeyException"/> when <paramref name="existingKey"/> opens no slot.</summary>
    public unsafe int AddKey(ReadOnlySpan<byte> existingKey, ReadOnlySpan<byte> newKey, int slot = AnySlot)
    {
        RequireKey(existingKey, nameof(existingKey));
        RequireKey(newKey, nameof(newKey));
        var handle = Handle;
        int result;
        fixed (byte* existing = existingKey)
        fixed (byte* added = newKey)
        {
            CryptsetupLog.BeginCall();
            result = Interop.Cryptsetup.KeyslotAddByPassphrase(handle, slot, existing, (nuint)existingKey.Length, added, (nuint)newKey.Length);
        }

        return result >= 0 ? result : throw CryptsetupErrors.Create("crypt_keyslot_add_by_passphrase", result, SlotSubject(slot), CryptCall.KeyCheck);
    }

    /// <summary>crypt_keyslot_destroy. Does not itself refuse the last slot: callers must.
    /// An inactive or out-of-range slot throws <see cref="CryptsetupException"/> (EINVAL).</summary>
    public void DestroySlot(int slot)
    {
        var handle = Handle;
        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.KeyslotDestroy(handle, slot);
        if (result < 0)
        {
            throw CryptsetupErrors.Create("crypt_keyslot_destroy", result, SlotSubject(slot));
        }
    }

    /// <summary>crypt_keyslot_status; <see cref="KeySlotState.Invalid"/> for a slot number out of range.</summary>
    public KeySlotState GetSlotState(int slot) => (KeySlotState)Interop.Cryptsetup.KeyslotStatus(Handle, slot);

    /// <summary>The key-derivation cost of an active slot (crypt_keyslot_get_pbkdf): what one
    /// trial on it costs in time, threads and memory.</summary>
    public unsafe PbkdfSettings GetSlotPbkdf(int slot)
    {
        Interop.Cryptsetup.CryptPbkdfType pbkdf;
        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.KeyslotGetPbkdf(Handle, slot, &pbkdf);
        if (result < 0)
        {
            throw CryptsetupErrors.Create("crypt_keyslot_get_pbkdf", result, SlotSubject(slot));
        }

        var type = System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)pbkdf.Type);
        var kind = type switch
        {
            "argon2id" => PbkdfKind.Argon2id,
            "argon2i" => PbkdfKind.Argon2i,
            _ => PbkdfKind.Pbkdf2,
        };
        var hash = System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)pbkdf.Hash) ?? "sha256";
        return new PbkdfSettings(kind, hash, pbkdf.Iterations, pbkdf.TimeMs, pbkdf.MaxMemoryKb, pbkdf.ParallelThreads);
    }

    /// <summary>The state of every slot, index = slot number.</summary>
    public IReadOnlyList<KeySlotState> GetSlotStates()
    {
        var states = new KeySlotState[KeySlotCount];
        for (var slot = 0; slot < states.Length; slot++)
        {
            states[slot] = GetSlotState(slot);
        }

        return states;
    }

    /// <summary>Tries a key without activating anything (crypt_activate_by_passphrase with a NULL
    /// name). Returns the slot that opened; throws <see cref="WrongKeyException"/> otherwise
    /// (also when <paramref name="slot"/> is given and inactive: then with errno ENOENT).</summary>
    public unsafe int TestKey(ReadOnlySpan<byte> key, int slot = AnySlot)
    {
        RequireKey(key, nameof(key));
        var handle = Handle;
        int result;
        fixed (byte* passphrase = key)
        {
            CryptsetupLog.BeginCall();
            result = Interop.Cryptsetup.ActivateByPassphrase(handle, null, slot, passphrase, (nuint)key.Length, 0);
        }

        return result >= 0 ? result : throw CryptsetupErrors.Create("crypt_activate_by_passphrase", result, SlotSubject(slot), CryptCall.KeyCheck);
    }

    private unsafe void SetPbkdf(Interop.Cryptsetup.CryptPbkdfType* pbkdf)
    {
        var handle = Handle;
        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.SetPbkdfType(handle, pbkdf);
        if (result < 0)
        {
            throw CryptsetupErrors.Create("crypt_set_pbkdf_type", result, DevicePath);
        }
    }
}
