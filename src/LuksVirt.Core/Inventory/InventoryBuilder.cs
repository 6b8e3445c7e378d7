namespace LuksVirt.Core.Inventory;

/// <summary>Why one guest cannot be handled; the guest is left out of the inventory, the others go on.</summary>
internal sealed record InventoryProblem(string GuestName, string Message);

/// <param name="Problems">Guests left out and why (each makes the run partly failed, exit code 1).</param>
/// <param name="Warnings">Configuration and discovery notes that did not stop anything.</param>
internal sealed record InventoryBuildResult(HostInventory Inventory, IReadOnlyList<InventoryProblem> Problems, IReadOnlyList<string> Warnings);

/// <summary>
/// Merges the configuration file with what libvirt says: a guest is every configured
/// <c>&lt;vm&gt;</c> plus every domain with a native LUKS disk; a container listed in both is one
/// disk. Checks each guest against its domain, then keeps the requested guests in start order.
/// </summary>
internal static class InventoryBuilder
{
    /// <param name="requestedVmNames">The <c>--vm</c> names; empty means every guest.</param>
    /// <exception cref="UnknownGuestException">A requested name is neither configured nor has an encrypted disk in libvirt (a usage error).</exception>
    public static InventoryBuildResult Build(InventoryConfig config, IEnumerable<DomainDescription> domains, IReadOnlyCollection<string> requestedVmNames)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(domains);
        ArgumentNullException.ThrowIfNull(requestedVmNames);

        var domainsByName = new Dictionary<string, DomainDescription>(StringComparer.Ordinal);
        var discoveries = new Dictionary<string, DomainDiskDiscoveryResult>(StringComparer.Ordinal);
        foreach (var domain in domains)
        {
            if (!domainsByName.TryAdd(domain.Name, domain))
            {
                throw new ArgumentException($"domain '{domain.Name}' is listed twice", nameof(domains));
            }

            discoveries.Add(domain.Name, DomainDiskDiscovery.FindEncryptedDisks(domain.Name, domain.InactiveXml));
        }

        var configured = config.Guests.ToDictionary(g => g.Name, StringComparer.Ordinal);
        var names = new SortedSet<string>(configured.Keys, StringComparer.Ordinal);
        names.UnionWith(discoveries.Where(d => d.Value.Disks.Count > 0).Select(d => d.Key));

        var unknown = requestedVmNames.Where(n => !names.Contains(n)).Distinct(StringComparer.Ordinal).ToArray();
        if (unknown.Length > 0)
        {
            throw new UnknownGuestException(unknown, config);
        }

        var candidates = new List<GuestCandidate>();
        foreach (var name in names)
        {
            configured.TryGetValue(name, out var configuredGuest);
            domainsByName.TryGetValue(name, out var domain);
            discoveries.TryGetValue(name, out var discovery);
            candidates.Add(BuildCandidate(name, configuredGuest, domain, discovery));
        }

        ReportSharedContainers(candidates);

        var wanted = requestedVmNames.Count == 0
            ? candidates
            : candidates.Where(c => requestedVmNames.Contains(c.Name, StringComparer.Ordinal)).ToList();

        var guests = wanted
            .Where(c => c.Problems.Count == 0)
            .Select(c => c.ToGuest())
            .OrderBy(g => g.Order is null ? 1 : 0)
            .ThenBy(g => g.Order)
            .ThenBy(g => g.Name, StringComparer.Ordinal)
            .ToList();
        var problems = wanted.SelectMany(c => c.Problems.Select(p => new InventoryProblem(c.Name, p))).ToList();
        var warnings = config.Warnings.Concat(wanted.SelectMany(c => c.Warnings)).ToList();
        return new InventoryBuildResult(new HostInventory(guests, config.AllowedImageDirectories), problems, warnings);
    }

    private static GuestCandidate BuildCandidate(string name, ConfiguredGuest? configured, DomainDescription? domain, DomainDiskDiscoveryResult? discovery)
    {
        var candidate = new GuestCandidate(name, configured, domain, discovery is { Disks.Count: > 0 });
        if (discovery is not null)
        {
            candidate.Warnings.AddRange(discovery.Warnings);
        }

        if (domain is null || discovery is null)
        {
            // Only a configured guest can lack a domain: discovered ones come from libvirt.
            candidate.Problems.Add($"{configured!.Location}: guest '{name}' is not defined in libvirt; define the domain or remove it from {configured.Location}");
            return candidate;
        }

        var discovered = new Dictionary<string, EncryptedDisk>(StringComparer.Ordinal);
        foreach (var disk in discovery.Disks)
        {
            if (!discovered.TryAdd(disk.ContainerPath, disk))
            {
                candidate.Problems.Add($"{disk.SourceLocation}: container '{disk.ContainerPath}' is attached twice (disks {discovered[disk.ContainerPath].TargetDev} and {disk.TargetDev}); attach it once");
            }
        }

        foreach (var disk in configured?.Disks ?? [])
        {
            discovered.TryGetValue(disk.Source, out var native);
            if (disk.Backend == DiskBackend.DmCrypt)
            {
                if (native is not null)
                {
                    candidate.Problems.Add($"{disk.Location}: container '{disk.Source}' is configured for dmcrypt, but domain '{name}' opens it itself (<encryption format='luks'> on disk {native.TargetDev}); set backend='native' or remove the disk from the configuration");
                    continue;
                }

                if (!discovery.DiskSources.Contains(disk.Target!, StringComparer.Ordinal))
                {
                    candidate.Warnings.Add($"{disk.Location}: domain '{name}' has no disk with source '{disk.Target}'; the guest will not see this container unless its domain XML uses that path");
                }

                candidate.Disks.Add(EncryptedDisk.CreateDmCrypt(disk.Source, disk.Target!, disk.Location));
            }
            else if (native is null)
            {
                candidate.Problems.Add($"{disk.Location}: container '{disk.Source}' is configured as native, but domain '{name}' has no disk with that source carrying <encryption format='luks'><secret type='passphrase' uuid='...'/>; add the encryption to the domain XML or use backend='dmcrypt'");
            }
            else
            {
                // One disk: what QEMU needs comes from the domain, where it was written down by the config.
                candidate.Disks.Add(EncryptedDisk.CreateNative(native.ContainerPath, native.SecretUuid!.Value, native.TargetDev!, disk.Location));
                discovered.Remove(disk.Source);
            }
        }

        // Disks only libvirt knows about, in the domain's order (a container attached twice counts once).
        candidate.Disks.AddRange(discovery.Disks.Where(d => discovered.TryGetValue(d.ContainerPath, out var kept) && ReferenceEquals(kept, d)));
        if (candidate.Disks.Count == 0 && candidate.Problems.Count == 0)
        {
            candidate.Problems.Add($"{configured?.Location ?? DomainDiskDiscovery.LocationOf(name)}: guest '{name}' has no encrypted disk: none in the configuration and none with <encryption format='luks'> in its domain XML; add a <disk> or remove the <vm>");
        }

        return candidate;
    }

    /// <summary>A container opened for two guests at once would be written by both: refuse both.</summary>
    private static void ReportSharedContainers(List<GuestCandidate> candidates)
    {
        var shared = candidates
            .SelectMany(c => c.Disks.Select(d => (Candidate: c, d.ContainerPath)))
            .GroupBy(x => x.ContainerPath, StringComparer.Ordinal)
            .Where(g => g.Select(x => x.Candidate).Distinct().Count() > 1);
        foreach (var group in shared)
        {
            var owners = group.Select(x => x.Candidate).Distinct().ToList();
            var ownerNames = string.Join(", ", owners.Select(o => $"'{o.Name}'"));
            foreach (var owner in owners)
            {
                owner.Problems.Add($"container '{group.Key}' belongs to several guests ({ownerNames}); give each guest its own container");
            }
        }
    }

    private sealed class GuestCandidate(string name, ConfiguredGuest? configured, DomainDescription? domain, bool discovered)
    {
        public string Name { get; } = name;

        public List<EncryptedDisk> Disks { get; } = [];

        public List<string> Problems { get; } = [];

        public List<string> Warnings { get; } = [];

        public Guest ToGuest()
        {
            var origin = (configured is null ? GuestOrigin.None : GuestOrigin.Configuration)
                | (discovered ? GuestOrigin.Discovery : GuestOrigin.None);
            return new Guest(Name, domain!.Uuid, configured?.Order, Disks, origin, configured?.Location);
        }
    }
}
