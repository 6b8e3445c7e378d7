using System.Xml.Linq;
using LuksVirt.Core.Containers;
using LuksVirt.Core.DomainXml;
using LuksVirt.Core.Holders;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Core.Logging;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Migration;

/// <summary>
/// <c>luksvirt encrypt-vm</c>: moves every plaintext disk of a shut-off guest into a new LUKS
/// container and only then switches the domain to the containers. Order, and why:
/// <list type="number">
/// <item>refuse anything checkable before the first write (guest running, names taken, key
/// files present, too little space);</item>
/// <item>per disk: format, encrypt, fsync, verify by hash, all under <c>NAME.incomplete</c>;</item>
/// <item>write the holders' key files, rename the containers into place, add config entries
/// (dmcrypt), define the switched domain XML, autostart off;</item>
/// <item>delete the plaintext sources, if asked.</item>
/// </list>
/// A failure anywhere undoes this run's changes (newest first), so the source images and the
/// domain are as before and a rerun starts clean; a kill leaves only <c>*.incomplete</c> files,
/// which the rerun removes. The guest being started or redefined meanwhile aborts the run.
/// </summary>
/// <param name="afterPayloadWrite">See <see cref="DiskEncryptor"/>; null outside the fault-injection build.</param>
public sealed class VmEncryptor(ActivityLog log, IMigrationProgress progress, Action<long>? afterPayloadWrite = null)
{
    /// <summary>Extra room per disk on top of its size: LUKS header (16 MiB for LUKS2) and slack.</summary>
    private const long SpaceMarginPerDisk = 64L << 20;

    public async Task<EncryptVmReport> RunAsync(EncryptVmRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var warnings = new List<string>();
        var backend = BackendSelection.Resolve(request.Backend);
        var version = BackendSelection.LuksVersionFor(backend, request.Luks1);
        KeySlotLayout layout;
        try
        {
            layout = KeySlotLayout.Plan(request.Holders, version);
        }
        catch (ArgumentException e)
        {
            throw new ContainerRefusedException(e.Message, e);
        }

        var config = InventoryConfigLoader.LoadExplicitOrDefault(request.ConfigPath);
        using var connection = LibvirtConnection.Open(request.ConnectUri);
        using var domain = connection.TryLookupDomainByName(request.Guest)
            ?? throw new ContainerRefusedException($"domain '{request.Guest}' is not defined in libvirt (virsh list --all shows the names)");
        if (!domain.IsPersistent)
        {
            throw new ContainerRefusedException($"domain '{request.Guest}' is transient; define it persistently first (virsh dumpxml, virsh define)");
        }

        if (domain.State != DomainState.Shutoff)
        {
            throw new ContainerRefusedException($"domain '{request.Guest}' is {domain.State}; shut it down first (virsh shutdown {request.Guest}): a running guest changes its disks during the copy");
        }

        var originalXml = domain.GetXml(inactive: true);
        var survey = PlaintextDiskFinder.Survey(originalXml, config);
        foreach (var line in survey.LeftAlone)
        {
            warnings.Add(line);
            log.Warning(line);
        }

        if (survey.Plaintext.Count == 0)
        {
            log.Info($"domain '{request.Guest}': no plaintext disk left to encrypt");
            return new EncryptVmReport(request.Guest, BackendSelection.Name(backend), version.Label(), [], survey.AlreadyEncrypted, survey.LeftAlone, null, [], warnings);
        }

        var keyFiles = CustodianKeyFiles.Prepare(request.KeysOut, layout.Keys);
        var plans = await PlanAsync(request, backend, survey.Plaintext, cancellationToken).ConfigureAwait(false);
        CheckFreeSpace(plans);

        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        string? abortReason = null;
        var uuid = domain.Uuid;
        var watch = connection.SubscribeDomainLifecycle(e =>
        {
            if (e.DomainUuid == uuid && e.Kind is DomainLifecycleEventKind.Started or DomainLifecycleEventKind.Defined or DomainLifecycleEventKind.Undefined)
            {
                // Runs on libvirt's event thread; the run reads it after the cancellation it causes.
                Volatile.Write(ref abortReason, $"domain '{request.Guest}' was {e.Kind.ToString().ToLowerInvariant()} during the migration");
                aborted.Cancel();
            }
        });

        var undo = new Stack<Action>();
        try
        {
            using var keys = GeneratedKeys.Generate(layout);
            var encryptor = new DiskEncryptor(log, progress, afterPayloadWrite);
            var results = new List<EncryptedDiskResult>();
            foreach (var plan in plans)
            {
                if (DiskEncryptor.RemoveLeftovers(plan))
                {
                    log.Notice($"{plan.Disk.TargetDev}: removed {plan.IncompletePath} (or its flattened copy) left by an interrupted run");
                }

                undo.Push(() => DiskEncryptor.RemoveLeftovers(plan));
                log.Info($"{plan.Disk.TargetDev}: {plan.Disk.SourcePath} ({plan.Disk.Format}, {DiskSize.Describe(plan.PlaintextBytes)}) -> {plan.ContainerPath} ({version.Label()}, {BackendSelection.Name(backend)})");
                var result = await encryptor.EncryptAsync(plan, version, keys, aborted.Token).ConfigureAwait(false);
                warnings.AddRange(result.Warnings);
                results.Add(result);
            }

            // Last look before anything visible changes: nobody touched the guest meanwhile.
            watch.Dispose();
            if (Volatile.Read(ref abortReason) is not null || domain.State != DomainState.Shutoff || domain.GetXml(inactive: true) != originalXml)
            {
                throw new InvalidOperationException($"{abortReason ?? $"domain '{request.Guest}' changed during the migration"}; nothing was switched, the sources are untouched. Run encrypt-vm again once it is shut off");
            }

            keyFiles.WriteAll(keys);
            undo.Push(keyFiles.RemoveWritten);
            foreach (var plan in plans)
            {
                // Never replaces a file: a name taken meanwhile fails here and everything is undone.
                File.Move(plan.IncompletePath, plan.ContainerPath, overwrite: false);
                undo.Push(() => File.Delete(plan.ContainerPath));
                if (plan.Config is { } entry)
                {
                    entry.Apply();
                    undo.Push(entry.Revert);
                }
            }

            SwitchDomain(connection, domain, originalXml, plans, undo);
            // The commit point: from here on the guest uses the containers, and nothing may be
            // undone any more (an undo after a deleted source would point the guest at nothing).
            undo.Clear();
            log.Info($"domain '{request.Guest}': {plans.Count} disk(s) switched to LUKS containers, autostart off, title marked");

            var deleted = DeletePlaintext(request, plans, warnings);
            var reports = plans.Select((plan, i) => new MigratedDiskReport(
                plan.Disk.TargetDev,
                plan.Disk.SourcePath,
                plan.Disk.Format,
                plan.ContainerPath,
                plan.DomainDiskPath,
                plan.SecretUuid,
                results[i].LuksUuid,
                plan.PlaintextBytes,
                Convert.ToHexStringLower(results[i].Sha256),
                results[i].Elapsed.TotalSeconds,
                deleted.Contains(plan))).ToList();
            var keyReports = keys.Keys.Select(k => new KeyFileReport(k.Plan.Holder, k.Plan.Slot, k.Plan.IsRecovery, Path.Combine(keyFiles.Directory, k.Plan.FileName))).ToList();
            return new EncryptVmReport(request.Guest, BackendSelection.Name(backend), version.Label(), reports, survey.AlreadyEncrypted, survey.LeftAlone,
                plans.Select(p => p.Config?.FilePath).FirstOrDefault(p => p is not null), keyReports, warnings);
        }
        catch (OperationCanceledException) when (Volatile.Read(ref abortReason) is not null && !cancellationToken.IsCancellationRequested)
        {
            Undo(undo);
            throw new InvalidOperationException($"{abortReason}; the migration was stopped and undone, the sources are untouched. Run encrypt-vm again once it is shut off");
        }
        catch
        {
            Undo(undo);
            throw;
        }
        finally
        {
            watch.Dispose();
        }
    }

    private static async Task<List<DiskMigrationPlan>> PlanAsync(EncryptVmRequest request, DiskBackend backend, IReadOnlyList<PlaintextDisk> disks, CancellationToken cancellationToken)
    {
        var plans = new List<DiskMigrationPlan>();
        foreach (var disk in disks)
        {
            var directory = request.OutputDirectory is { } output ? Path.GetFullPath(output)
                : disk.IsBlockDevice ? throw new ContainerRefusedException($"{disk.TargetDev}: {disk.SourcePath} is a block device; give --output-dir for its container file")
                : Path.GetDirectoryName(disk.SourcePath)!;
            if (!Directory.Exists(directory))
            {
                throw new ContainerRefusedException($"output directory {directory} does not exist");
            }

            if (!File.Exists(disk.SourcePath))
            {
                throw new ContainerRefusedException($"{disk.TargetDev}: the source {disk.SourcePath} does not exist; fix the domain's disk first");
            }

            var containerPath = Path.Combine(directory, DiskMigrationPlan.ContainerName(disk.SourcePath));
            if (Exists(containerPath))
            {
                throw new ContainerRefusedException(
                    $"{disk.TargetDev}: {containerPath} already exists and the domain does not use it; if an earlier run stopped after finishing it, remove it (and the key files of that run) and run again");
            }

            if (plans.Any(p => p.ContainerPath == containerPath))
            {
                throw new ContainerRefusedException($"{disk.TargetDev}: {disk.SourcePath} and another disk would both become {containerPath}; use --output-dir or rename one");
            }

            var bytes = disk.IsRaw
                ? disk.IsBlockDevice ? StorageLength.Of(disk.SourcePath) : new FileInfo(disk.SourcePath).Length
                : await ImageFlattener.VirtualSizeAsync(disk.SourcePath, disk.Format, cancellationToken).ConfigureAwait(false);
            var config = backend == DiskBackend.DmCrypt
                ? DmCryptConfigEntry.Plan(request.ConfigPath, request.Guest, containerPath, link: null, DiskMigrationPlan.LinkStem(containerPath))
                : null;
            plans.Add(new DiskMigrationPlan(disk, containerPath, bytes, config, backend == DiskBackend.Native ? Guid.NewGuid() : null));
        }

        return plans;
    }

    private static void CheckFreeSpace(IReadOnlyList<DiskMigrationPlan> plans)
    {
        foreach (var group in plans.GroupBy(p => new DriveInfo(Path.GetDirectoryName(p.ContainerPath)!).RootDirectory.FullName))
        {
            // A flattened (non-raw) source needs its temporary raw copy at the same time; sparse
            // sources may need less, so this is an upper bound only for the LUKS copies.
            var needed = group.Sum(p => p.PlaintextBytes + SpaceMarginPerDisk + (p.FlattenedPath is null ? 0 : p.PlaintextBytes));
            var available = new DriveInfo(Path.GetDirectoryName(group.First().ContainerPath)!).AvailableFreeSpace;
            if (needed > available)
            {
                throw new ContainerRefusedException(
                    $"the file system of {group.Key} has {DiskSize.Describe(available)} free, the containers need up to {DiskSize.Describe(needed)}; free space or use --output-dir");
            }
        }
    }

    private static void SwitchDomain(LibvirtConnection connection, LibvirtDomain domain, string originalXml, IReadOnlyList<DiskMigrationPlan> plans, Stack<Action> undo)
    {
        var document = DomainDiskEditor.Parse(originalXml);
        foreach (var plan in plans)
        {
            var disk = new EncryptedDomainDisk(plan.Config is null ? DiskBackend.Native : DiskBackend.DmCrypt, plan.DomainDiskPath, IsBlockDevice: plan.Config is not null, plan.SecretUuid);
            DomainDiskEditor.SwitchDisk(document.Root!, plan.Disk.TargetDev, disk);
        }

        DomainDiskEditor.MarkTitle(document.Root!);
        var wasAutostarted = domain.Autostart;
        connection.DefineDomain(document.Root!.ToString(SaveOptions.None)).Dispose();
        undo.Push(() =>
        {
            connection.DefineDomain(originalXml).Dispose();
            domain.Autostart = wasAutostarted;
        });
        domain.Autostart = false;
    }

    private HashSet<DiskMigrationPlan> DeletePlaintext(EncryptVmRequest request, IReadOnlyList<DiskMigrationPlan> plans, List<string> warnings)
    {
        var deleted = new HashSet<DiskMigrationPlan>();
        if (!request.DeletePlaintext)
        {
            var kept = $"the plaintext source(s) stay where they were ({string.Join(", ", plans.Select(p => p.Disk.SourcePath))}); delete them once the guest runs from the containers";
            warnings.Add(kept);
            log.Notice(kept);
            return deleted;
        }

        const string Caveat = "deleting a file does not erase its data: on SSDs (wear levelling, TRIM), copy-on-write file systems (btrfs, ZFS), snapshots and backups the plaintext may survive";
        warnings.Add(Caveat);
        log.Warning(Caveat);
        foreach (var plan in plans)
        {
            if (plan.Disk.IsBlockDevice)
            {
                var device = $"{plan.Disk.TargetDev}: {plan.Disk.SourcePath} is a block device and was not deleted; wipe or remove it yourself";
                warnings.Add(device);
                log.Warning(device);
                continue;
            }

            try
            {
                File.Delete(plan.Disk.SourcePath);
                deleted.Add(plan);
                log.Info($"{plan.Disk.TargetDev}: deleted the plaintext source {plan.Disk.SourcePath}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                var failed = $"{plan.Disk.TargetDev}: could not delete the plaintext source {plan.Disk.SourcePath} ({e.Message}); the guest already uses its container, delete it by hand";
                warnings.Add(failed);
                log.Error(failed);
            }
        }

        return deleted;
    }

    private void Undo(Stack<Action> undo)
    {
        while (undo.TryPop(out var step))
        {
            try
            {
                step();
            }
#pragma warning disable CA1031 // Undo goes on whatever one step throws; the original error is what the caller sees.
            catch (Exception e)
#pragma warning restore CA1031
            {
                log.Error($"undo step failed: {e.Message}; check by hand");
            }
        }
    }

    private static bool Exists(string path)
    {
        try
        {
            _ = PosixFile.GetLinkStatus(path);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }
}
