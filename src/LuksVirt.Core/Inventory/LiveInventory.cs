using LuksVirt.Core.Logging;
using LuksVirt.Libvirt;

namespace LuksVirt.Core.Inventory;

/// <summary>
/// The inventory as a command sees it: the configuration file merged with what the libvirt
/// connection says now, restricted to the requested guests. Guests that cannot be handled are
/// left out and listed in <see cref="Problems"/> ("guest: why").
/// </summary>
public sealed record LiveInventory(IReadOnlyList<Guest> Guests, IReadOnlyList<string> Problems)
{
    /// <exception cref="ConfigurationException">The configuration file is unusable (exit code 2).</exception>
    /// <exception cref="UnknownGuestException">A requested guest is unknown (exit code 2).</exception>
    public static LiveInventory Load(LibvirtConnection connection, string? configPath, IReadOnlyCollection<string> vmNames, ActivityLog log)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(log);
        var config = InventoryConfigLoader.LoadExplicitOrDefault(configPath);
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

        var built = InventoryBuilder.Build(config, domains, vmNames);
        foreach (var warning in config.Warnings.Concat(built.Warnings))
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
}
