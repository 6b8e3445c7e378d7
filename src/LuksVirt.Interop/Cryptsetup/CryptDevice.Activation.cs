using LuksVirt.Interop.Secrets;

namespace LuksVirt.Interop.Cryptsetup;

public sealed partial class CryptDevice
{
    // DM_NAME_LEN is 128 bytes including the terminating NUL.
    private const int MaxMappingNameBytes = 127;

    /// <summary>Whether this kernel offers device-mapper with dm-crypt (needed by the dmcrypt
    /// backend), read from /proc/misc and /sys/module (see <see cref="KernelDeviceMapper"/>).</summary>
    public static bool IsDeviceMapperAvailable => KernelDeviceMapper.IsCryptAvailable;

    /// <summary>True when a device-mapper mapping of that name is active (crypt_status). Always
    /// false on a kernel without dm-crypt, where no such mapping can exist.</summary>
    public static bool IsMappingActive(string mappingName)
    {
        RequireMappingName(mappingName);
        if (!KernelDeviceMapper.IsCryptAvailable)
        {
            return false;
        }

        CryptsetupLog.BeginCall();
        var status = Interop.Cryptsetup.Status(0, mappingName);
        return status switch
        {
            Interop.Cryptsetup.StatusActive or Interop.Cryptsetup.StatusBusy => true,
            Interop.Cryptsetup.StatusInactive => false,
            _ => throw CryptsetupErrors.Create("crypt_status", -CryptsetupErrno.EINVAL, mappingName, CryptCall.DeviceMapper),
        };
    }

    /// <summary>Creates /dev/mapper/<paramref name="mappingName"/>. Returns the slot used.
    /// Throws <see cref="DeviceMapperUnavailableException"/> on a kernel without dm-crypt.</summary>
    internal unsafe int Activate(string mappingName, ReadOnlySpan<byte> key, int slot = AnySlot)
    {
        RequireMappingName(mappingName);
        RequireKey(key, nameof(key));
        var handle = Handle;
        int result;
        fixed (byte* passphrase = key)
        {
            CryptsetupLog.BeginCall();
            result = Interop.Cryptsetup.ActivateByPassphrase(handle, mappingName, slot, passphrase, (nuint)key.Length, 0);
        }

        return result >= 0
            ? result
            : throw CryptsetupErrors.Create("crypt_activate_by_passphrase", result, $"{SlotSubject(slot)} as {mappingName}", CryptCall.Activation);
    }

    /// <summary>Creates /dev/mapper/<paramref name="mappingName"/> from the volume key (as
    /// <see cref="GetVolumeKey"/> returned it): libcryptsetup checks it against the header's
    /// digest, and no key slot is derived again. Throws <see cref="DeviceMapperUnavailableException"/>
    /// on a kernel without dm-crypt, <see cref="WrongKeyException"/> for a key that is not this
    /// container's.</summary>
    public unsafe void ActivateWithVolumeKey(string mappingName, SecretBuffer volumeKey)
    {
        RequireMappingName(mappingName);
        ArgumentNullException.ThrowIfNull(volumeKey);
        RequireKey(volumeKey.Span, nameof(volumeKey));
        var handle = Handle;
        int result;
        fixed (byte* key = volumeKey.Span)
        {
            CryptsetupLog.BeginCall();
            result = Interop.Cryptsetup.ActivateByVolumeKey(handle, mappingName, key, (nuint)volumeKey.Length, 0);
        }

        if (result < 0)
        {
            throw CryptsetupErrors.Create("crypt_activate_by_volume_key", result, $"volume key as {mappingName}", CryptCall.Activation);
        }
    }

    /// <summary>Removes /dev/mapper/<paramref name="mappingName"/> (crypt_init_by_name, crypt_deactivate).</summary>
    public static void Deactivate(string mappingName)
    {
        RequireMappingName(mappingName);
        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.InitByName(out var handle, mappingName);
        using (handle)
        {
            if (result < 0)
            {
                throw CryptsetupErrors.Create("crypt_init_by_name", result, mappingName, CryptCall.DeviceMapper);
            }

            CryptsetupLog.BeginCall();
            result = Interop.Cryptsetup.Deactivate(handle, mappingName);
            if (result < 0)
            {
                throw CryptsetupErrors.Create("crypt_deactivate", result, mappingName, CryptCall.DeviceMapper);
            }
        }
    }

    private static void RequireMappingName(string mappingName)
    {
        ArgumentException.ThrowIfNullOrEmpty(mappingName);
        if (mappingName.Contains('/', StringComparison.Ordinal)
            || System.Text.Encoding.UTF8.GetByteCount(mappingName) > MaxMappingNameBytes)
        {
            throw new ArgumentException($"invalid device-mapper name '{mappingName}': no '/', at most {MaxMappingNameBytes} bytes", nameof(mappingName));
        }
    }
}
