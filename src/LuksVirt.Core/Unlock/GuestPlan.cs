using LuksVirt.Core.Containers;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Logging;
using LuksVirt.Core.State;
using LuksVirt.Cryptsetup;
using LuksVirt.Libvirt;

namespace LuksVirt.Core.Unlock;

/// <summary>One disk of a guest during a run: what preflight found, its trials and their outcome.</summary>
internal sealed class DiskPlan(EncryptedDisk disk)
{
    public EncryptedDisk Disk { get; } = disk;

    /// <summary>The LUKS UUID, once the header was read (for the state file).</summary>
    public Guid? Uuid { get; set; }

    /// <summary>Set when the disk needs a key: the trials to run.</summary>
    public DiskTrials Trials { get; set; } = new(disk.ContainerPath, []);

    public DiskTrialOutcome? Outcome { get; set; }

    /// <summary>Decided without trials (already open, in use, refused by preflight).</summary>
    public DiskOutcome? Final { get; set; }

    public string? Message { get; set; }

    public bool NeedsKey => Final is null;

    public bool OpenedByThisRun => NeedsKey && Outcome?.Opened is not null;

    public bool CanBeOpened => Final is DiskOutcome.AlreadyOpen or DiskOutcome.InUse || OpenedByThisRun;

    public DiskReport ToReport()
    {
        var opener = Outcome?.Opened;
        var outcome = Final ?? (opener is not null ? DiskOutcome.Opened : DiskOutcome.NoKey);
        var message = Message ?? Outcome?.Error ?? (outcome == DiskOutcome.NoKey
            ? $"no presented key opens it ({Outcome?.Derivations ?? 0} trial(s))"
            : null);
        return new DiskReport(Disk.ContainerPath, Disk.Backend, outcome, opener?.Key.Holder, opener?.Slot, Outcome?.Derivations ?? 0, message);
    }
}

/// <summary>One guest during a run: its domain, its state before, and its disks.</summary>
internal sealed class GuestPlan : IDisposable
{
    private GuestPlan(Guest guest, LibvirtDomain? domain, string stateBefore, IReadOnlyList<DiskPlan> disks, string? problem)
    {
        Guest = guest;
        Domain = domain;
        StateBefore = stateBefore;
        Disks = disks;
        Problem = problem;
    }

    public Guest Guest { get; }
    public LibvirtDomain? Domain { get; }
    public string StateBefore { get; }
    public IReadOnlyList<DiskPlan> Disks { get; }
    public string? Problem { get; }

    public bool IsRunning => Domain is { State: DomainState.Running or DomainState.Paused or DomainState.Blocked or DomainState.PMSuspended };

    public IEnumerable<DiskPlan> DisksNeedingKeys => Domain is null || IsRunning ? [] : Disks.Where(d => d.NeedsKey);

    public static GuestPlan Create(LibvirtConnection connection, Guest guest, KeySet keys, UnlockState state, string holderRegistryPath, ActivityLog log)
    {
        var disks = guest.Disks.Select(d => new DiskPlan(d)).ToList();
        LibvirtDomain? domain;
        try
        {
            domain = connection.LookupDomainByName(guest.Name);
        }
        catch (DomainNotFoundException)
        {
            var problem = $"libvirt has no domain '{guest.Name}'; define it or remove it from the configuration";
            log.Error($"{guest.Name}: {problem}");
            return new GuestPlan(guest, null, "undefined", disks, problem);
        }

        var domainState = domain.State;
        var plan = new GuestPlan(guest, domain, domainState.ToString(), disks, null);
        foreach (var disk in disks)
        {
            if (plan.IsRunning)
            {
                disk.Final = disk.Disk.Backend == DiskBackend.Native || IsMappingOpen(disk.Disk) ? DiskOutcome.InUse : DiskOutcome.Failed;
                if (disk.Final == DiskOutcome.Failed)
                {
                    disk.Message = $"the guest runs but {disk.Disk.MappingName} is not open";
                }

                continue;
            }

            Preflight(disk, keys, state, holderRegistryPath, log);
        }

        return plan;
    }

    /// <summary>Everything that can be refused before a key derivation is spent.</summary>
    private static void Preflight(DiskPlan disk, KeySet keys, UnlockState state, string holderRegistryPath, ActivityLog log)
    {
        var spec = disk.Disk;
        if (spec.Backend == DiskBackend.DmCrypt && IsMappingOpen(spec))
        {
            disk.Final = DiskOutcome.AlreadyOpen;
            return;
        }

        if (!File.Exists(spec.ContainerPath))
        {
            Refuse(disk, "container not found; check the path in the configuration or domain XML");
            return;
        }

        try
        {
            using var device = CryptDevice.Load(spec.ContainerPath);
            disk.Uuid = Guid.TryParse(device.Uuid, out var uuid) ? uuid : null;
            if (spec.Backend == DiskBackend.Native && device.Version != LuksVersion.Luks1)
            {
                Refuse(disk, "QEMU's LUKS driver opens LUKS1 only and this container is LUKS2; use the dmcrypt backend, or convert it (cryptsetup convert --type luks1) while it is closed");
                return;
            }

            if (spec.Backend == DiskBackend.DmCrypt && !CryptDevice.IsDeviceMapperAvailable)
            {
                Refuse(disk, "device-mapper not available: this kernel has no dm-crypt; load it (modprobe dm_crypt) or use the native backend");
                return;
            }

            var activeSlots = device.GetSlotStates()
                .Select((slotState, slot) => (slotState, slot))
                .Where(s => s.slotState is KeySlotState.Active or KeySlotState.ActiveLast)
                .Select(s => s.slot)
                .ToList();
            var last = state.LastOpenerOf(spec.ContainerPath, disk.Uuid) is { Holder: { } holder } record ? (holder, record.Slot) : ((string, int)?)null;
            var registered = ReadHolders(device, holderRegistryPath, log);
            var costs = activeSlots.ToDictionary(s => s, s => CostOf(device.GetSlotPbkdf(s)));
            disk.Trials = new DiskTrials(spec.ContainerPath, TrialPlanner.Plan(keys, activeSlots, last, registered), costs);
        }
        catch (NotLuksException)
        {
            Refuse(disk, "not a LUKS container; LuksVirt never formats an existing disk implicitly");
        }
        catch (CryptsetupException e)
        {
            Refuse(disk, "cannot read the LUKS header: " + e.Message);
        }
    }

    /// <summary>Who holds which slot, as the container records it; a registry that cannot be read
    /// only costs the planner a hint, so it is logged, not fatal.</summary>
    private static Dictionary<int, string> ReadHolders(CryptDevice device, string registryPath, ActivityLog log)
    {
        try
        {
            return HolderStores.For(device.Version, registryPath).Read(device).ToDictionary(r => r.Key, r => r.Value.Holder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptsetupException or System.Text.Json.JsonException)
        {
            log.Warning($"{device.DevicePath}: holder records unreadable ({e.Message}); trying keys without them");
            return [];
        }
    }

    private static TrialCost CostOf(PbkdfSettings pbkdf) => pbkdf.Kind == PbkdfKind.Pbkdf2
        ? TrialCost.Pbkdf2
        : new TrialCost(Math.Max(1, (int)pbkdf.Parallelism), pbkdf.MemoryKiB);

    private static void Refuse(DiskPlan disk, string message)
    {
        disk.Final = DiskOutcome.Refused;
        disk.Message = message;
    }

    private static bool IsMappingOpen(EncryptedDisk disk) =>
        disk.Backend == DiskBackend.DmCrypt && CryptDevice.IsDeviceMapperAvailable && CryptDevice.IsMappingActive(disk.MappingName!);

    public void Dispose() => Domain?.Dispose();

    public GuestReport Report(GuestOutcome outcome, string stateAfter, string? message = null) =>
        new(Guest.Name, StateBefore, stateAfter, outcome, Disks.Select(d => d.ToReport()).ToList(), message);
}
