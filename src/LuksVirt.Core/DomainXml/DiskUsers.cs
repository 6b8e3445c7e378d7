using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.DomainXml;

/// <summary>Which libvirt domains already use a path as a disk (file or device source).</summary>
internal static class DiskUsers
{
    /// <summary>Names of the domains whose persistent definition has a disk at one of <paramref name="paths"/>.</summary>
    public static IReadOnlyList<string> Find(LibvirtConnection connection, IReadOnlyCollection<string> paths)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(paths);
        var users = new List<string>();
        foreach (var domain in connection.ListAllDomains())
        {
            using (domain)
            {
                var name = domain.Name;
                string xml;
                try
                {
                    xml = domain.GetXml(inactive: true);
                }
                catch (DomainNotFoundException)
                {
                    // Undefined between the listing and this call: it uses no disk any more.
                    continue;
                }

                if (DomainDiskEditor.DiskSources(name, xml).Any(s => paths.Contains(s, StringComparer.Ordinal)))
                {
                    users.Add(name);
                }
            }
        }

        return users;
    }
}
