using LuksVirt.Core.Logging;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Inventory;

/// <summary>
/// The inventory as a command sees it: the configuration file merged with what the libvirt
/// connection says now, restricted to the requested guests. Guests that cannot be handled are
/// left out and listed in <see cref="Problems"/> ("guest: why").
/// </summary>
internal sealed record LiveInventory(IReadOnlyList<Guest> Guests, IReadOnlyList<string> Problems)
{
    /// <exception cref="ConfigurationException">The configuration file is unusable (exit code 2).</exception>
    /// <exception cref="UnknownGuestException">A requested guest is unknown (exit code 2).</exception>
    public static LiveInventory Load(LibvirtConnection connection, string? configPath, IReadOnlyCollection<string> vmNames, ActivityLog log) =>
        Load(connection, InventoryConfigLoader.LoadExplicitOrDefault(configPath), vmNames, log);

    /// <summary>As <see cref="Load(LibvirtConnection, string?, IReadOnlyCollection{string}, ActivityLog)"/>,
    /// with the configuration file already read (and checked) by the caller: read once per run.</summary>
    /// <exception cref="UnknownGuestException">A requested guest is unknown (exit code 2).</exception>
    public static LiveInventory Load(LibvirtConnection connection, InventoryConfig config, IReadOnlyCollection<string> vmNames, ActivityLog log)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(log);
        var built = Build(connection, config, vmNames);
        // The build's warnings start with the configuration file's.
        foreach (var warning in built.Warnings)
        {
            log.Warning(warning);
        }

        var problems = built.Problems.Select(p => $"{p.GuestName}: {p.Message}").ToList();
        foreach (var problem in problems)
        {
            log.Error(problem);
        }

        return new LiveInventory(built.Inventory.Guests, problems);
    }

    /// <summary>
    /// What <see cref="Load"/> refuses besides the file itself, checked before a run touches
    /// anything (a key file above all): every requested guest is known to the configuration
    /// <paramref name="config"/> or to libvirt. Logs nothing; the run's own <see cref="Load"/>
    /// reports warnings and problems once.
    /// </summary>
    /// <exception cref="UnknownGuestException">A requested guest is unknown (exit code 2).</exception>
    public static void Validate(LibvirtConnection connection, InventoryConfig config, IReadOnlyCollection<string> vmNames)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(config);
        _ = Build(connection, config, vmNames);
    }

    private static InventoryBuildResult Build(LibvirtConnection connection, InventoryConfig config, IReadOnlyCollection<string> vmNames)
    {
        var domains = new List<DomainDescription>();
        foreach (var domain in connection.ListAllDomains())
        {
            using (domain)
            {
                try
                {
                    domains.Add(new DomainDescription(domain.Name, domain.Uuid, domain.GetXml(inactive: true)));
                }
                catch (DomainNotFoundException)
                {
                    // Undefined between the listing and this call (another admin or tool at
                    // work): it is no guest of this run, and must not fail the others.
                }
            }
        }

        return InventoryBuilder.Build(config, domains, vmNames);
    }
}
