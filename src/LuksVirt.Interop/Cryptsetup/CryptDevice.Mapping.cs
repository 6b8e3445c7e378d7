namespace LuksVirt.Interop.Cryptsetup;

/// <summary>An active device-mapper mapping as libcryptsetup describes it: its backing device
/// and, for a LUKS mapping, the LUKS UUID of the header on that device (null for a mapping that
/// is not LUKS).</summary>
public sealed record ActiveMapping(string Name, string BackingDevice, string? LuksUuid);

public sealed partial class CryptDevice
{
    /// <summary>What backs the active mapping <paramref name="mappingName"/> (crypt_init_by_name,
    /// crypt_get_device_name, crypt_get_uuid), or null when no mapping of that name is active
    /// (also on a kernel without dm-crypt).</summary>
    public static ActiveMapping? ReadActiveMapping(string mappingName)
    {
        if (!IsMappingActive(mappingName))
        {
            return null;
        }

        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.InitByName(out var handle, mappingName);
        using (handle)
        {
            if (result == -CryptsetupErrno.ENODEV)
            {
                // Closed between the two calls.
                return null;
            }

            if (result < 0)
            {
                throw CryptsetupErrors.Create("crypt_init_by_name", result, mappingName, CryptCall.DeviceMapper);
            }

            var device = ReadString(Interop.Cryptsetup.GetDeviceName(handle))
                ?? throw new CryptsetupException("crypt_get_device_name", CryptsetupErrno.ENODEV, $"{mappingName}: libcryptsetup names no backing device");
            return new ActiveMapping(mappingName, device, ReadString(Interop.Cryptsetup.GetUuid(handle)));
        }
    }
}
