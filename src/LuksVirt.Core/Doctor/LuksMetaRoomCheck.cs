using LuksVirt.Core.Inventory;
using LuksVirt.Core.Tang.Luks1;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Doctor;

/// <summary>
/// Names every configured LUKS1 container (the configuration file's disks and the native disks
/// libvirt's domains carry) that has no room for LUKSMeta between its key material and its
/// payload: clevis, and LuksVirt's Tang bindings, keep a LUKS1 binding there, so such a
/// container can never be bound to Tang. Only the header is read; nothing is written.
/// </summary>
internal static class LuksMetaRoomCheck
{
    public const string Name = "luksmeta room";

    public static DoctorCheck Run(LibvirtConnection connection, string? configPath)
    {
        ArgumentNullException.ThrowIfNull(connection);
        List<(string Guest, string Container)> containers;
        try
        {
            containers = ConfiguredContainers(connection, InventoryConfigLoader.LoadExplicitOrDefault(configPath));
        }
        catch (ConfigurationException e)
        {
            return new DoctorCheck(Name, CheckStatus.Warning, $"the configuration cannot be read, so its containers are not checked: {e.Message}", "fix the configuration file");
        }

        var noRoom = new List<string>();
        var unreadable = new List<string>();
        foreach (var (guest, container) in containers)
        {
            var described = $"{container} (guest {guest})";
            try
            {
                if (HasNoRoom(container))
                {
                    noRoom.Add(described);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                unreadable.Add($"{described}: {e.Message}");
            }
        }

        var notRead = unreadable.Count == 0 ? "" : $"; not read: {string.Join("; ", unreadable)}";
        return noRoom.Count == 0
            ? new DoctorCheck(Name, unreadable.Count == 0 ? CheckStatus.Ok : CheckStatus.Warning,
                $"every configured LUKS1 container has room for clevis/Tang bindings (LUKSMeta); {containers.Count} container(s) checked{notRead}")
            : new DoctorCheck(Name, CheckStatus.Warning,
                $"no room for clevis/Tang bindings (LUKSMeta): {string.Join(", ", noRoom)}{notRead}",
                "recreate it with luksvirt create, or use LUKS2");
    }

    private static bool HasNoRoom(string container)
    {
        // Only files and block devices are opened: opening a FIFO named by a domain would hang.
        var real = new FileInfo(container).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? container;
        if (PosixFile.GetLinkStatus(real).Type is not (PosixFileType.Regular or PosixFileType.BlockDevice))
        {
            throw new IOException("neither a file nor a block device");
        }

        using var file = File.OpenHandle(real);
        return LuksMeta.DescribeRoom(file) == LuksMetaRoom.NoRoom;
    }

    /// <summary>Each container once, with the first guest that names it.</summary>
    private static List<(string Guest, string Container)> ConfiguredContainers(LibvirtConnection connection, InventoryConfig config)
    {
        var containers = config.Guests.SelectMany(g => g.Disks.Select(d => (g.Name, d.Source))).ToList();
        foreach (var domain in connection.ListAllDomains())
        {
            using (domain)
            {
                try
                {
                    var discovered = DomainDiskDiscovery.FindEncryptedDisks(domain.Name, domain.GetXml(inactive: true));
                    containers.AddRange(discovered.Disks.Select(d => (domain.Name, d.ContainerPath)));
                }
                catch (DomainNotFoundException)
                {
                    // Undefined between the listing and this look: it has no disk to check.
                }
            }
        }

        return containers.DistinctBy(c => c.Item2, StringComparer.Ordinal).ToList();
    }
}
