namespace LuksVirt.Interop.Cryptsetup;

/// <summary>
/// Whether this kernel can create dm-crypt mappings, decided from what the kernel itself
/// publishes. Not from /dev/mapper/control: without udev, libdevmapper creates that node by
/// itself on first use, also on a kernel without device-mapper (opening it then fails ENODEV).
/// Read on every query: an administrator may load dm_crypt while LuksVirt runs.
/// </summary>
internal static class KernelDeviceMapper
{
    /// <summary>The fix named in every "not available" message.</summary>
    internal const string Remedy = "load it with 'modprobe dm_crypt' (kernel needs CONFIG_DM_CRYPT) or use the native backend";

    internal static bool IsCryptAvailable => HasDeviceMapperCore() && HasCryptTarget();

    // The device-mapper core registers the misc device "device-mapper" (its control node);
    // /proc/misc lists it whenever dm_mod is loaded or built in.
    private static bool HasDeviceMapperCore()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/misc"))
            {
                if (line.AsSpan().Trim().EndsWith(" device-mapper", StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            // No procfs: nothing proves device-mapper is there.
        }

        return false;
    }

    // dm_crypt shows in /sys/module once loaded (also when built in with parameters, which
    // current kernels have); modules.builtin covers one built in without any.
    private static bool HasCryptTarget()
    {
        if (Directory.Exists("/sys/module/dm_crypt"))
        {
            return true;
        }

        try
        {
            var release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
            var builtin = Path.Combine("/lib/modules", release, "modules.builtin");
            return File.Exists(builtin)
                && File.ReadLines(builtin).Any(line => line.EndsWith("/dm-crypt.ko", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
