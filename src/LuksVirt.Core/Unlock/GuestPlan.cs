using LuksVirt.Core.Activation;
using LuksVirt.Core.Holders;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Logging;
using LuksVirt.Core.State;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Unlock;

/// <summary>One disk of a guest during a run: what preflight found, its trials and their outcome.
/// Its LUKS header is loaded once, by the plan, and serves the trials and the activation.</summary>
internal sealed class DiskPlan(EncryptedDisk disk) : IDisposable
{
    public EncryptedDisk Disk { get; } = disk;

    /// <summary>The container's header, loaded by the plan (null when the disk needs no key or
    /// was refused before); used by its trials and its dmcrypt activation, never at once.</summary>
    public CryptDevice? Header { get; private set; }

    /// <summary>The LUKS UUID, once the header was read (for the state file).</summary>
    public Guid? Uuid { get; set; }

    /// <summary>Set when the disk needs a key: the trials to run.</summary>
    public DiskTrials Trials { get; set; } = new(disk.ContainerPath, []);

    public DiskTrialOutcome? Outcome { get; set; }

    /// <summary>Decided without trials (already open, in use, refused by preflight), or after
    /// them (refused by <see cref="ActivationPreflight"/>, closed again, failed).</summary>
    public DiskOutcome? Final { get; set; }

    public string? Message { get; set; }

    /// <summary>A dry run's refusal known before the trials (no device-mapper, a link path that
    /// cannot be made): the dry run still tries the keys, then refuses as the real run does.</summary>
    public string? DeferredRefusal { get; set; }

    /// <summary>An already open, verified mapping whose link is missing or points elsewhere:
    /// the run re-creates the link.</summary>
    public bool RelinkNeeded { get; set; }

    /// <summary>This run handed the disk over (secret defined, or mapping opened).</summary>
    public bool HandedOver { get; set; }

    public bool NeedsKey => Final is null;

    public bool OpenedByThisRun => NeedsKey && Outcome?.Opened is not null;

    public bool CanBeOpened => Final is DiskOutcome.AlreadyOpen or DiskOutcome.InUse || OpenedByThisRun;

    /// <summary>Keeps <paramref name="header"/> for the rest of the run (disposed with the plan).</summary>
    public void KeepHeader(CryptDevice header) => Header = header;

    public void Dispose() => Header?.Dispose();

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
    private GuestPlan(Guest guest, LibvirtDomain? domain, DomainState? state, string stateBefore, IReadOnlyList<DiskPlan> disks, string? problem)
    {
        Guest = guest;
        Domain = domain;
        IsRunning = IsUp(state);
        StateBefore = stateBefore;
        Disks = disks;
        Problem = problem;
    }

    public Guest Guest { get; }
    public LibvirtDomain? Domain { get; }
    public string StateBefore { get; }
    public IReadOnlyList<DiskPlan> Disks { get; }
    public string? Problem { get; }

    /// <summary>The guest ran (or was paused, suspended...) when the run looked at it.</summary>
    public bool IsRunning { get; }

    /// <summary>States in which QEMU runs and holds the guest's disks open.</summary>
    public static bool IsUp(DomainState? state) => state is DomainState.Running or DomainState.Paused or DomainState.Blocked or DomainState.PMSuspended;

    public IEnumerable<DiskPlan> DisksNeedingKeys => Domain is null || IsRunning ? [] : Disks.Where(d => d.NeedsKey);

    /// <summary>Looks the guest up and decides, per disk, what the run must do. Never throws for
    /// one guest's trouble: that becomes the plan's (or a disk's) problem, and the other guests go on.</summary>
    public static GuestPlan Create(LibvirtConnection connection, Guest guest, IReadOnlyList<PresentedKey> keys, UnlockState state, string holderRegistryPath, bool dryRun, ActivityLog log)
    {
        var disks = guest.Disks.Select(d => new DiskPlan(d)).ToList();
        LibvirtDomain? domain = null;
        DomainState domainState;
        try
        {
            // By the UUID the inventory read: the very domain whose XML the inventory was built
            // from, looked up once, even if another one took its name since.
            domain = connection.LookupDomainByUuid(guest.Uuid);
            domainState = domain.State;
        }
        catch (DomainNotFoundException)
        {
            domain?.Dispose();
            var problem = $"libvirt has no domain '{guest.Name}'; define it or remove it from the configuration";
            log.Error($"{guest.Name}: {problem}");
            return new GuestPlan(guest, null, null, "undefined", disks, problem);
        }
        catch (LibvirtException e)
        {
            domain?.Dispose();
            var problem = $"cannot read the domain's state: {e.Message}";
            log.Error($"{guest.Name}: {problem}");
            return new GuestPlan(guest, null, null, "unknown", disks, problem);
        }

        var plan = new GuestPlan(guest, domain, domainState, domainState.ToString(), disks, null);
        foreach (var disk in disks)
        {
            try
            {
                if (plan.IsRunning)
                {
                    CheckInUse(disk);
                }
                else
                {
                    Preflight(disk, keys, state, holderRegistryPath, dryRun, log);
                }
            }
#pragma warning disable CA1031 // One disk that cannot be examined is that disk's refusal, not the end of the run.
            catch (Exception e)
#pragma warning restore CA1031
            {
                disk.Final = plan.IsRunning ? DiskOutcome.Failed : DiskOutcome.Refused;
                disk.Message = $"cannot be examined: {e.Message}";
            }
        }

        return plan;
    }

    /// <summary>The report of a guest the run never even planned (it failed before).</summary>
    public static GuestReport Unreached(Guest guest, string reason) =>
        new(guest.Name, "unknown", "unknown", GuestOutcome.NotStarted, guest.Disks.Select(d => new DiskPlan(d) { Final = DiskOutcome.LeftClosed, Message = reason }.ToReport()).ToList(), reason);

    /// <summary>
    /// A running guest's disk: QEMU holds a native disk's key; a dmcrypt disk must be open as a
    /// mapping of its own container, linked where the domain looks. A missing link is repaired by
    /// the run; everything else that does not add up fails the disk (a problem, exit 1): the
    /// report never calls a guest fine whose disk is not what LuksVirt would have given it.
    /// </summary>
    private static void CheckInUse(DiskPlan disk)
    {
        var spec = disk.Disk;
        disk.Final = DiskOutcome.InUse;
        if (spec.Backend == DiskBackend.Native)
        {
            return;
        }

        var mapping = CryptDevice.IsDeviceMapperAvailable ? CryptDevice.ReadActiveMapping(spec.MappingName!) : null;
        if (mapping is null)
        {
            Fail(disk, $"the guest runs, but {spec.MappingName} is not open{(CryptDevice.IsDeviceMapperAvailable ? "" : " (this kernel has no device-mapper)")}: " +
                $"the guest does not use {spec.ContainerPath} through LuksVirt; check its domain XML, or shut it down and unlock again");
            return;
        }

        if (OpenMappingCheck.Check(spec, mapping) is { } mismatch)
        {
            Fail(disk, "the guest runs, but " + mismatch);
            return;
        }

        switch (DeviceLink.Inspect(spec.LinkPath!, DmCryptActivator.DevicePath(spec)))
        {
            case LinkState.NotALink:
                Fail(disk, $"the guest runs on {spec.MappingName}, but {spec.LinkPath} is not a symbolic link; move it away and run again");
                break;
            case LinkState.Missing or LinkState.PointsElsewhere:
                disk.RelinkNeeded = true;
                break;
        }
    }

    private static void Fail(DiskPlan disk, string message)
    {
        disk.Final = DiskOutcome.Failed;
        disk.Message = message;
    }

    /// <summary>Everything that can be refused before a key derivation is spent.</summary>
    private static void Preflight(DiskPlan disk, IReadOnlyList<PresentedKey> keys, UnlockState state, string holderRegistryPath, bool dryRun, ActivityLog log)
    {
        var spec = disk.Disk;
        if (spec.Backend == DiskBackend.DmCrypt && CryptDevice.IsDeviceMapperAvailable && CryptDevice.ReadActiveMapping(spec.MappingName!) is { } mapping)
        {
            TakeOpenMapping(disk, mapping);
            return;
        }

        if (ActivationPreflight.BeforeKeys(spec) is { } refusal)
        {
            if (!dryRun)
            {
                Refuse(disk, refusal);
                return;
            }

            disk.DeferredRefusal = refusal;
        }

        if (!File.Exists(spec.ContainerPath))
        {
            Refuse(disk, "container not found; check the path in the configuration or domain XML");
            return;
        }

        CryptDevice? device = null;
        try
        {
            device = CryptDevice.Load(spec.ContainerPath);
            disk.Uuid = Guid.TryParse(device.Uuid, out var uuid) ? uuid : null;
            if (spec.Backend == DiskBackend.Native && device.Version != LuksVersion.Luks1)
            {
                Refuse(disk, "QEMU's LUKS driver opens LUKS1 only and this container is LUKS2; use the dmcrypt backend, or convert it (cryptsetup convert --type luks1) while it is closed");
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
            // dmcrypt disks keep the volume key their trial unlocked: activation then costs no
            // second key derivation (and, with the header kept too, no second header read).
            var keepVolumeKey = !dryRun && spec.Backend == DiskBackend.DmCrypt;
            var keysForDisk = keys.Where(k => k.ForContainer is null || k.ForContainer == disk.Uuid).ToList();
            disk.Trials = new DiskTrials(spec.ContainerPath, TrialPlanner.Plan(keysForDisk, activeSlots, last, registered), costs, keepVolumeKey, device);
            disk.KeepHeader(device);
            device = null;
        }
        catch (NotLuksException)
        {
            Refuse(disk, "not a LUKS container; LuksVirt never formats an existing disk implicitly");
        }
        catch (CryptsetupException e)
        {
            Refuse(disk, "cannot read the LUKS header: " + e.Message);
        }
        finally
        {
            // Refused, or failed: the header is not needed any more.
            device?.Dispose();
        }
    }

    /// <summary>A mapping of the disk's name is already open: taken as this disk's only when it is
    /// backed by this container; its link is re-created when missing.</summary>
    private static void TakeOpenMapping(DiskPlan disk, ActiveMapping mapping)
    {
        var spec = disk.Disk;
        if (OpenMappingCheck.Check(spec, mapping) is { } mismatch)
        {
            Refuse(disk, mismatch);
            return;
        }

        switch (DeviceLink.Inspect(spec.LinkPath!, DmCryptActivator.DevicePath(spec)))
        {
            case LinkState.NotALink:
                Refuse(disk, $"{spec.MappingName} is open, but {spec.LinkPath} exists and is not a symbolic link; LuksVirt will not replace it. Move it away and run again");
                return;
            case LinkState.Missing or LinkState.PointsElsewhere:
                disk.RelinkNeeded = true;
                break;
        }

        disk.Final = DiskOutcome.AlreadyOpen;
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

    public void Dispose()
    {
        foreach (var disk in Disks)
        {
            disk.Dispose();
        }

        Domain?.Dispose();
    }

    /// <summary>The report of a guest the run stopped short of starting (interrupted, or the
    /// run failed): disks a key opens, or that were never tried, stay closed for that reason.</summary>
    public GuestReport Abandon(string reason)
    {
        foreach (var disk in Disks.Where(d => d.Final is null && (d.Outcome is null || d.Outcome.Opened is not null)))
        {
            disk.Final = DiskOutcome.LeftClosed;
            disk.Message = reason;
        }

        return Report(GuestOutcome.NotStarted, StateBefore, reason);
    }

    public GuestReport Report(GuestOutcome outcome, string stateAfter, string? message = null) =>
        new(Guest.Name, StateBefore, stateAfter, outcome, Disks.Select(d => d.ToReport()).ToList(), message);
}
