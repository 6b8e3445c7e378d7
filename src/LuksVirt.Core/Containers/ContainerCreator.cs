using LuksVirt.Core.DomainXml;
using LuksVirt.Core.Holders;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Volumes;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Containers;

/// <summary>
/// <c>luksvirt create</c>: a new LUKS container with one generated key per holder and a
/// recovery key, its key files for the holders, and the disk in the guest's domain.
/// Everything that can be checked is checked before the first change (refusals throw
/// <see cref="ContainerRefusedException"/> and change nothing); a failure after that undoes
/// what this run made, newest first.
/// </summary>
public sealed class ContainerCreator(ActivityLog log)
{
    /// <summary>Smallest container accepted: the header area plus 1 MiB of payload.</summary>
    private const long Luks1MinimumBytes = 3L << 20;
    private const long Luks2MinimumBytes = 17L << 20;

    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public async Task<CreateReport> CreateAsync(CreateRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var warnings = new List<string>();
        var backend = BackendSelection.Resolve(request.Backend);
        var version = BackendSelection.LuksVersionFor(backend, request.Luks1);
        if (backend == DiskBackend.Native && request.Luks1)
        {
            warnings.Add("--luks1 is implied by the native backend");
        }

        // With --quorum the holders share one slot: the container is formatted with the recovery
        // key alone, and the quorum slot is added last, by the same code as `keys add --quorum`.
        var quorum = request.Quorum is { } threshold ? Refuse(() => CreateQuorum.Plan(request.Holders, threshold, version)) : null;
        var layout = Refuse(() => KeySlotLayout.Plan(quorum is null ? request.Holders : [], version));
        var target = ContainerTarget.Resolve(request.Disk);
        var size = CheckSize(request, target, version);
        CheckExistingContent(request, target, warnings);
        var keyFiles = CustodianKeyFiles.Prepare(request.KeysOut, [.. layout.Keys, .. quorum?.ShareFiles ?? []]);

        using var connection = LibvirtConnection.Open(request.ConnectUri);
        using var domain = connection.TryLookupDomainByName(request.Guest);
        if (domain is null && !request.DefineDomain)
        {
            throw new ContainerRefusedException(
                $"domain '{request.Guest}' is not defined in libvirt; define it first (virsh define GUEST.xml) or pass --define-domain for a minimal one");
        }

        var config = backend == DiskBackend.DmCrypt
            ? DmCryptConfigEntry.Plan(request.ConfigPath, request.Guest, target.Path, request.LinkPath, Stem(target))
            : null;
        var domainDiskPath = config?.Target ?? target.Path;
        var users = DiskUsers.Find(connection, [target.Path, domainDiskPath]);
        if (users.Count > 0)
        {
            throw new ContainerRefusedException($"{domainDiskPath} is already a disk of domain(s) {string.Join(", ", users)}; a container in use is never formatted");
        }

        if (target.Kind == ContainerTargetKind.LogicalVolume && !target.Exists)
        {
            // lvcreate clears only signatures at the start: extents freed by earlier volumes keep
            // their bytes, readable on the raw device, until the guest overwrites them.
            warnings.Add($"{target.Path}: a new LV may reuse extents of deleted volumes; their old data stays readable on the device until the guest overwrites it (if it held secrets, fill the LV with random data through the opened mapping first)");
        }

        if (domain is { IsActive: true })
        {
            warnings.Add($"domain '{request.Guest}' is running: the new disk is in its persistent definition and appears at its next start");
        }

        var undo = new Stack<Func<Task>>();
        try
        {
            await PrepareStorageAsync(target, size, undo, cancellationToken).ConfigureAwait(false);
            using var keys = GeneratedKeys.Generate(layout);
            log.Info($"formatting {target.Path} as {version.Label()} ({request.Cipher.Name}, {BackendSelection.Name(backend)} backend), {keys.Keys.Count} key slot(s) at the minimal PBKDF2 cost");
            var formatted = LuksContainerFormatter.Format(target.Path, version, request.Cipher, keys);
            var containerBytes = target.Kind == ContainerTargetKind.File ? new FileInfo(target.Path).Length : target.DeviceLength();
            if (formatted.PayloadOffset >= containerBytes)
            {
                throw new IOException($"{target.Path}: {DiskSize.Describe(containerBytes)} leaves no room after the {DiskSize.Describe(formatted.PayloadOffset)} LUKS header");
            }

            keyFiles.WriteAll(keys);
            undo.Push(() =>
            {
                keyFiles.RemoveWritten();
                return Task.CompletedTask;
            });
            log.Info($"key files written to {keyFiles.Directory}: {string.Join(", ", keys.Keys.Select(k => k.Plan.FileName))}");

            if (config is not null)
            {
                config.Apply();
                undo.Push(() =>
                {
                    config.Revert();
                    return Task.CompletedTask;
                });
                log.Info($"{config.FilePath}: added {target.Path} -> {config.Target} for guest '{request.Guest}'");
            }

            var secretUuid = backend == DiskBackend.Native ? Guid.NewGuid() : (Guid?)null;
            var disk = new EncryptedDomainDisk(backend, domainDiskPath, IsBlockDevice: backend == DiskBackend.DmCrypt || target.Kind != ContainerTargetKind.File, secretUuid);
            var targetDev = DefineDomain(connection, domain, request, disk, undo);
            log.Info($"domain '{request.Guest}': disk {targetDev} -> {domainDiskPath}, autostart off, title marked");

            // Last: nothing can fail after it, so its share files never need undoing here (a
            // failure inside it rolls its own change back and removes the shares it wrote).
            var split = quorum is null ? null : AddQuorumSlot(target.Path, quorum, keys, keyFiles.Directory);
            var keyReports = keys.Keys.Select(k => new KeyFileReport(k.Plan.Holder, k.Plan.Slot, k.Plan.IsRecovery, Path.Combine(keyFiles.Directory, k.Plan.FileName)));
            var shareReports = (split?.ShareFiles ?? []).Select((path, i) => new KeyFileReport(quorum!.Holders[i], CreateQuorum.Slot, Recovery: false, path) { Share = true });

            return new CreateReport(
                request.Guest,
                target.Path,
                target.Kind,
                BackendSelection.Name(backend),
                version.Label(),
                formatted.Uuid,
                formatted.Cipher,
                containerBytes,
                containerBytes - formatted.PayloadOffset,
                targetDev,
                domainDiskPath,
                secretUuid,
                DomainDefined: domain is null,
                config?.FilePath,
                [.. shareReports, .. keyReports],
                warnings)
            {
                Quorum = split?.Quorum?.Describe(),
            };
        }
        catch
        {
            await UndoAsync(undo).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The quorum slot, authorised by the recovery key (the only key the container has so
    /// far): <see cref="KeySlotEditor.AddQuorum"/> splits a fresh key, writes one share per holder
    /// and proves the shares as written open the slot.</summary>
    private KeySlotChange AddQuorumSlot(string containerPath, CreateQuorum quorum, GeneratedKeys keys, string keysOut)
    {
        var recovery = keys.Keys.Single(k => k.Plan.IsRecovery);
        using var editor = KeySlotEditor.Open(containerPath);
        var change = editor.AddQuorum(recovery.Secret, quorum.Holders, quorum.Threshold, keysOut, CreateQuorum.Slot);
        log.Info($"key slot {CreateQuorum.Slot}: {change.Quorum!.Describe()}; share files written to {keysOut}");
        return change;
    }

    /// <summary>"web-d0.raw.crypted" -> "web-d0.raw": the name the dmcrypt link is built from.</summary>
    public static string Stem(ContainerTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var name = target.VolumeName ?? Path.GetFileName(target.Path);
        foreach (var suffix in new[] { ".crypted", ".luks" })
        {
            if (name.Length > suffix.Length && name.EndsWith(suffix, StringComparison.Ordinal))
            {
                return name[..^suffix.Length];
            }
        }

        return name;
    }

    private static T Refuse<T>(Func<T> check)
    {
        try
        {
            return check();
        }
        catch (ArgumentException e)
        {
            throw new ContainerRefusedException(e.Message, e);
        }
    }

    private static long? CheckSize(CreateRequest request, ContainerTarget target, LuksVersion version)
    {
        var minimum = version == LuksVersion.Luks1 ? Luks1MinimumBytes : Luks2MinimumBytes;
        if (target.Kind == ContainerTargetKind.BlockDevice)
        {
            var length = target.DeviceLength();
            if (request.SizeBytes is { } asked && asked != length)
            {
                throw new ContainerRefusedException($"--size {DiskSize.Describe(asked)} differs from the size of {target.Path} ({DiskSize.Describe(length)}); a device is used whole, leave --size out");
            }

            return length >= minimum
                ? null
                : throw new ContainerRefusedException($"{target.Path} has {DiskSize.Describe(length)}; a {version.Label()} container needs at least {DiskSize.Describe(minimum)}");
        }

        var size = request.SizeBytes ?? throw new ContainerRefusedException($"--size is required for a new {(target.Kind == ContainerTargetKind.File ? "file" : "logical volume")}, e.g. --size 32G");
        return size >= minimum
            ? size
            : throw new ContainerRefusedException($"--size {DiskSize.Describe(size)} is too small: a {version.Label()} container needs at least {DiskSize.Describe(minimum)} (header and payload)");
    }

    private void CheckExistingContent(CreateRequest request, ContainerTarget target, List<string> warnings)
    {
        if (target.Kind == ContainerTargetKind.LogicalVolume)
        {
            if (target.Exists)
            {
                throw new ContainerRefusedException($"{target.Path} already exists; to format an existing volume give its device node (readlink -f {target.Path}) with --force");
            }

            return;
        }

        if (target.DescribeExistingContent() is not { } content)
        {
            return;
        }

        if (!request.Force)
        {
            throw new ContainerRefusedException($"refusing to format: {content}. Pass --force to destroy it");
        }

        var warning = $"--force: {content}; it is overwritten";
        if (target.Kind == ContainerTargetKind.BlockDevice)
        {
            warning += "; old data beyond the header stays readable on the device until the guest overwrites it (wipe the device first if it held secrets)";
        }

        warnings.Add(warning);
        log.Warning(warning);
    }

    private static async Task PrepareStorageAsync(ContainerTarget target, long? size, Stack<Func<Task>> undo, CancellationToken cancellationToken)
    {
        switch (target.Kind)
        {
            case ContainerTargetKind.File when target.Exists:
                // --force on a file: drop its blocks (truncate to zero) so that none of the old
                // content stays readable inside the new container's payload area.
                using (var file = new FileStream(target.Path, FileMode.Truncate, FileAccess.Write, FileShare.None))
                {
                    file.SetLength(size!.Value);
                }

                break;
            case ContainerTargetKind.File:
                using (var file = new FileStream(target.Path, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = OwnerOnlyFile,
                }))
                {
                    undo.Push(() =>
                    {
                        File.Delete(target.Path);
                        return Task.CompletedTask;
                    });
                    file.SetLength(size!.Value); // sparse: no block is written until the guest writes
                }

                break;
            case ContainerTargetKind.LogicalVolume:
                await LogicalVolumes.CreateAsync(target.VolumeGroup!, target.VolumeName!, size!.Value, cancellationToken).ConfigureAwait(false);
                undo.Push(() => LogicalVolumes.RemoveAsync(target.VolumeGroup!, target.VolumeName!, CancellationToken.None));
                break;
            case ContainerTargetKind.BlockDevice:
            default:
                break;
        }
    }

    private static string DefineDomain(LibvirtConnection connection, LibvirtDomain? domain, CreateRequest request, EncryptedDomainDisk disk, Stack<Func<Task>> undo)
    {
        if (domain is null)
        {
            var domainType = request.DomainType ?? (File.Exists("/dev/kvm") ? "kvm" : "qemu");
            var (minimal, dev) = DomainDiskEditor.MinimalDomain(request.Guest, domainType, disk);
            using var defined = connection.DefineDomain(minimal);
            undo.Push(() =>
            {
                using var created = connection.TryLookupDomainByName(request.Guest);
                created?.Undefine();
                return Task.CompletedTask;
            });
            defined.Autostart = false;
            return dev;
        }

        var previous = domain.GetXml(inactive: true);
        var wasAutostarted = domain.Autostart;
        var (xml, targetDev) = DomainDiskEditor.AddDisk(previous, disk);
        connection.DefineDomain(xml).Dispose();
        undo.Push(() =>
        {
            connection.DefineDomain(previous).Dispose();
            domain.Autostart = wasAutostarted;
            return Task.CompletedTask;
        });
        domain.Autostart = false;
        return targetDev;
    }

    private async Task UndoAsync(Stack<Func<Task>> undo)
    {
        while (undo.TryPop(out var step))
        {
            try
            {
                await step().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Undo goes on whatever one step throws; the original error is what the caller sees.
            catch (Exception e)
#pragma warning restore CA1031
            {
                log.Error($"undo step failed: {e.Message}; check by hand");
            }
        }
    }
}
