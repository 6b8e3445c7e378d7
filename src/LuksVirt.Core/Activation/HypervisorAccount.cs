using System.Text.RegularExpressions;

namespace LuksVirt.Core.Activation;

/// <summary>
/// The user and group QEMU runs as, which must own a dm-crypt device handed to a guest: the
/// <c>user</c>/<c>group</c> settings of /etc/libvirt/qemu.conf, else the Debian defaults.
/// </summary>
internal sealed partial record HypervisorAccount(string User, string Group)
{
    public const string QemuConfPath = "/etc/libvirt/qemu.conf";

    public static HypervisorAccount Debian { get; } = new("libvirt-qemu", "kvm");

    public static HypervisorAccount FromQemuConf(string path = QemuConfPath)
    {
        if (!File.Exists(path))
        {
            return Debian;
        }

        string? user = null;
        string? group = null;
        foreach (var line in File.ReadLines(path))
        {
            var match = Setting().Match(line);
            if (!match.Success)
            {
                continue;
            }

            if (match.Groups["key"].Value == "user")
            {
                user = match.Groups["value"].Value;
            }
            else
            {
                group = match.Groups["value"].Value;
            }
        }

        return new HypervisorAccount(user ?? Debian.User, group ?? Debian.Group);
    }

    // qemu.conf is libvirt's own key = "value" format; commented lines start with '#'.
    [GeneratedRegex("""^\s*(?<key>user|group)\s*=\s*"(?<value>[^"]+)"\s*$""")]
    private static partial Regex Setting();
}
