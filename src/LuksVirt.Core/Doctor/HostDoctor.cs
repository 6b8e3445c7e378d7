using LuksVirt.Core.Bench;
using LuksVirt.Core.Inventory;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Doctor;

/// <summary>
/// Checks what LuksVirt needs on this host: libvirt and QEMU (for the native backend),
/// libcryptsetup, device-mapper with dm-crypt (for the dmcrypt backend), the kernel crypto API
/// and AES instructions (for speed), guests whose encrypted disks would be autostarted, and how
/// keys are kept in memory, and configured LUKS1 containers that clevis could not bind.
/// </summary>
public sealed class HostDoctor(string connectUri, string? configPath = null)
{
    public DoctorReport Run()
    {
        var checks = new List<DoctorCheck>();
        checks.Add(CheckCryptsetup());
        checks.AddRange(CheckLibvirt());
        checks.Add(CheckQemuLuksDriver());
        checks.Add(CheckDeviceMapper());
        checks.Add(CheckKernelCryptoApi());
        checks.Add(CheckAesInstructions());
        checks.Add(KeyMemoryCheck.Run());
        return new DoctorReport(checks);
    }

    private static DoctorCheck CheckCryptsetup()
    {
        try
        {
            return new DoctorCheck("libcryptsetup", CheckStatus.Ok, CryptDevice.LibraryVersion, Required: true);
        }
        catch (DllNotFoundException)
        {
            return new DoctorCheck("libcryptsetup", CheckStatus.Failed, "libcryptsetup.so.12 not found",
                "install it: apt-get install libcryptsetup12 (or run scripts/setup.sh)", Required: true);
        }
    }

    private List<DoctorCheck> CheckLibvirt()
    {
        LibvirtConnection connection;
        try
        {
            connection = LibvirtConnection.Open(connectUri);
        }
        catch (DllNotFoundException)
        {
            return [new DoctorCheck("libvirt", CheckStatus.Failed, "libvirt.so.0 not found",
                "install it: apt-get install libvirt-daemon-system libvirt-clients (or run scripts/setup.sh)", Required: true)];
        }
        catch (LibvirtException e)
        {
            return [new DoctorCheck("libvirt", CheckStatus.Failed, $"cannot connect to {connectUri}: {e.Message}",
                "start libvirtd (systemctl start libvirtd, or scripts/setup.sh on a host without systemd)", Required: true)];
        }

        using (connection)
        {
            var checks = new List<DoctorCheck>
            {
                new("libvirt", CheckStatus.Ok, $"{connectUri}: libvirtd {FormatVersion(connection.DaemonVersion)}", Required: true),
                new("hypervisor", CheckStatus.Ok, $"{connection.HypervisorType} {FormatVersion(connection.HypervisorVersion)}", Required: true),
            };
            checks.Add(CheckAutostartOfEncryptedGuests(connection));
            checks.Add(LuksMetaRoomCheck.Run(connection, configPath));
            return checks;
        }
    }

    private static DoctorCheck CheckAutostartOfEncryptedGuests(LibvirtConnection connection)
    {
        var offenders = new List<string>();
        foreach (var domain in connection.ListAllDomains())
        {
            using (domain)
            {
                try
                {
                    if (domain.Autostart && DomainDiskDiscovery.FindEncryptedDisks(domain.Name, domain.GetXml(inactive: true)).Disks.Count > 0)
                    {
                        offenders.Add(domain.Name);
                    }
                }
                catch (DomainNotFoundException)
                {
                    // Undefined between the listing and this look: it autostarts nothing.
                }
            }
        }

        return offenders.Count == 0
            ? new DoctorCheck("autostart", CheckStatus.Ok, "no guest with an encrypted disk has libvirt autostart on")
            : new DoctorCheck("autostart", CheckStatus.Warning,
                $"libvirt would autostart guests whose disks are encrypted: {string.Join(", ", offenders)}",
                $"LuksVirt starts them once their disks are open: virsh autostart --disable {offenders[0]}");
    }

    private static DoctorCheck CheckQemuLuksDriver()
    {
        var probe = QemuLuksProbe.Run();
        return probe.Luks1Opens
            ? new DoctorCheck("qemu luks driver", CheckStatus.Ok,
                probe.Luks2Opens ? "opens LUKS1 and LUKS2" : "opens LUKS1; rejects LUKS2 (native disks are made as LUKS1)", Required: true)
            : new DoctorCheck("qemu luks driver", CheckStatus.Failed, $"qemu-img cannot open a LUKS1 container: {probe.Error}",
                "install QEMU's tools: apt-get install qemu-utils qemu-system-x86", Required: true);
    }

    private static DoctorCheck CheckDeviceMapper() => CryptDevice.IsDeviceMapperAvailable
        ? new DoctorCheck("device-mapper", CheckStatus.Ok, "dm-crypt available: the dmcrypt backend can open disks")
        : new DoctorCheck("device-mapper", CheckStatus.Warning,
            "device-mapper not available: this kernel has no dm-crypt, so dmcrypt disks cannot be opened here",
            "use the native backend (QEMU decrypts), or load it: modprobe dm_crypt");

    private static DoctorCheck CheckKernelCryptoApi() => KernelCryptoApi.IsAvailable
        ? new DoctorCheck("kernel crypto API", CheckStatus.Ok, "AF_ALG sockets available (cipher benchmark works)")
        : new DoctorCheck("kernel crypto API", CheckStatus.Warning,
            "AF_ALG sockets not available: the kernel cipher benchmark cannot run",
            "load the user API modules: modprobe algif_skcipher");

    private static DoctorCheck CheckAesInstructions() => CpuFlags.Read().HasAesInstructions
        ? new DoctorCheck("AES instructions", CheckStatus.Ok, "CPU has AES-NI: aes-xts is the fastest cipher")
        : new DoctorCheck("AES instructions", CheckStatus.Warning, "CPU lacks AES instructions: aes-xts runs in software",
            "run `luksvirt bench` to pick the fastest cipher for this CPU");

    /// <summary>libvirt encodes versions as major * 1,000,000 + minor * 1,000 + release.</summary>
    internal static string FormatVersion(ulong version) => $"{version / 1_000_000}.{version / 1_000 % 1_000}.{version % 1_000}";
}
