using System.Globalization;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Processes;

namespace LuksVirt.Core.Volumes;

/// <summary>
/// LVM volumes for containers, through the lvm2 tools (there is no stable C API for creating
/// volumes). lvcreate needs device-mapper in the kernel; without it the tool fails and its own
/// message is passed on.
/// </summary>
internal static class LogicalVolumes
{
    public const string Package = "lvm2";

    /// <summary>udevd's control socket: libudev (and so LVM) counts udev as running while it exists.</summary>
    internal const string UdevControlSocket = "/run/udev/control";

    /// <summary>
    /// Environment for the lvm2 tools. With udevd running, nothing is added. Without it (a
    /// container, a rescue system, the lab VM) LVM still leaves the device nodes to udev's rules
    /// ("trust_udev"), so lvcreate finds no /dev/VG/LV to wipe and fails ("not found: device not
    /// cleared"); DM_DISABLE_UDEV=1 is LVM's own switch (lvm(8)) to manage the nodes in /dev
    /// itself. libcryptsetup makes that choice on its own, LVM does not.
    /// </summary>
    internal static IReadOnlyDictionary<string, string> ToolEnvironment(bool udevRunning) =>
        udevRunning ? new Dictionary<string, string>() : new Dictionary<string, string> { ["DM_DISABLE_UDEV"] = "1" };

    private static IReadOnlyDictionary<string, string> CurrentToolEnvironment() => ToolEnvironment(Path.Exists(UdevControlSocket));

    /// <summary>The device node path of VG/LV.</summary>
    public static string DevicePath(string volumeGroup, string name) => $"/dev/{volumeGroup}/{name}";

    /// <summary>True for a VG/LV name pair as LVM allows them: [A-Za-z0-9+_.-], not starting with '-'.</summary>
    public static bool IsVolumeName(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('/');
        return parts.Length == 2 && parts.All(IsName);
    }

    public static async Task CreateAsync(string volumeGroup, string name, long sizeBytes, CancellationToken cancellationToken)
    {
        // Size in bytes ("b"), so that LVM rounds up to whole extents and never down. --yes
        // answers lvcreate's questions (standard input is empty), such as whether to wipe a
        // signature that old data left in the new volume's first sectors: it is formatted next.
        var result = await ExternalTool.RunAsync(
            "lvcreate",
            ["--yes", "--size", sizeBytes.ToString(CultureInfo.InvariantCulture) + "b", "--name", name, volumeGroup],
            CurrentToolEnvironment(),
            Package,
            cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new IOException($"lvcreate {volumeGroup}/{name} failed (exit {result.ExitCode}): {result.StandardError}");
        }
    }

    public static async Task RemoveAsync(string volumeGroup, string name, CancellationToken cancellationToken)
    {
        var result = await ExternalTool.RunAsync("lvremove", ["--yes", $"{volumeGroup}/{name}"], CurrentToolEnvironment(), Package, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new IOException($"lvremove {volumeGroup}/{name} failed (exit {result.ExitCode}): {result.StandardError}");
        }
    }

    private static bool IsName(string name) =>
        name.Length is > 0 and <= 127 && name[0] != '-' && name is not ("." or "..")
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '_' or '.' or '-');
}
