using System.Diagnostics;
using LuksVirt.Core.Containers;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Core.Logging;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;

namespace LuksVirt.Core.Migration;

/// <summary>What encrypting one disk produced (the container still under its incomplete name),
/// and what the user should hear about it.</summary>
internal sealed record EncryptedDiskResult(string LuksUuid, byte[] Sha256, TimeSpan Elapsed, IReadOnlyList<string> Warnings);

/// <summary>
/// Copies one plaintext disk into a new LUKS container: libcryptsetup writes the header and key
/// slots, then the payload is encrypted here with OpenSSL's AES-XTS on every core
/// (<see cref="PayloadPipeline"/>) using the volume key libcryptsetup hands over; every chunk is
/// read back from the disk and decrypted, and only when the SHA-256 of the decrypted copy equals
/// the SHA-256 of the source (and the file is fsynced) does the container count as done.
/// </summary>
/// <param name="afterPayloadWrite">Called with the byte count of every payload chunk written; only the
/// fault-injection build of the tests passes one (see <c>MigrationFaultInjection</c>).</param>
internal sealed class DiskEncryptor(ActivityLog log, IMigrationProgress progress, Action<long>? afterPayloadWrite = null)
{
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Room for any LUKS header before the payload (LUKS2's default is 16 MiB).</summary>
    private const long HeaderRoom = 32L << 20;

    public async Task<EncryptedDiskResult> EncryptAsync(DiskMigrationPlan plan, LuksVersion version, GeneratedKeys keys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(keys);
        var input = plan.Disk.SourcePath;
        if (plan.FlattenedPath is { } flattened)
        {
            log.Info($"{plan.Disk.TargetDev}: flattening {plan.Disk.Format} image {input} to a temporary raw file {flattened}");
            CreateSparse(flattened, plan.PlaintextBytes);
            await ImageFlattener.FlattenAsync(input, plan.Disk.Format, flattened, cancellationToken).ConfigureAwait(false);
            input = flattened;
        }

        var (uuid, geometry, warnings) = Format(plan, version, keys);
        using var volumeKey = LuksContainerFormatter.TakeVolumeKey(plan.IncompletePath, keys.Keys[0]);
        var pipeline = new PayloadPipeline(geometry, Environment.ProcessorCount);

        using var source = File.OpenHandle(input, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        using var container = new PayloadFile(plan.IncompletePath);
        if (!container.IsDirect)
        {
            log.Notice($"{plan.IncompletePath}: the file system has no direct I/O; writing and reading back through the page cache");
        }

        var clock = Stopwatch.StartNew();
        var advance = progress.BeginPhase($"encrypt+verify {plan.Disk.TargetDev}", geometry.PayloadLength);
        var hashes = await pipeline.EncryptAndVerifyAsync(source, container, volumeKey, bytes =>
        {
            advance(bytes);
            afterPayloadWrite?.Invoke(bytes);
        }, cancellationToken).ConfigureAwait(false);
        container.Flush();
        var elapsed = clock.Elapsed;
        if (!hashes.Match)
        {
            throw new IOException(
                $"{plan.Disk.TargetDev}: verification failed: SHA-256 of the source {Convert.ToHexStringLower(hashes.Source)} but of the decrypted copy {Convert.ToHexStringLower(hashes.DecryptedCopy)}; the copy is discarded");
        }

        if (plan.FlattenedPath is { } temporary)
        {
            File.Delete(temporary);
        }

        log.Info($"{plan.Disk.TargetDev}: written and verified, SHA-256 {Convert.ToHexStringLower(hashes.Source)} ({DiskSize.Describe(plan.PlaintextBytes)} in {elapsed.TotalSeconds:0.0} s)");
        return new EncryptedDiskResult(uuid, hashes.Source, elapsed, warnings);
    }

    /// <summary>Removes what an interrupted or failed run left under this plan's temporary names
    /// (names only LuksVirt uses); true when there was something.</summary>
    public static bool RemoveLeftovers(DiskMigrationPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var removed = false;
        foreach (var path in new[] { plan.IncompletePath, plan.FlattenedPath })
        {
            if (path is not null && Exists(path))
            {
                // A symbolic link planted there is removed itself, its target untouched.
                File.Delete(path);
                removed = true;
            }
        }

        return removed;
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

    // libcryptsetup is done with the file before the payload is opened: LUKS2 takes flock()
    // locks on an image file, which the exclusive FileStream below would block.
    private (string Uuid, PayloadGeometry Geometry, List<string> Warnings) Format(DiskMigrationPlan plan, LuksVersion version, GeneratedKeys keys)
    {
        CreateSparse(plan.IncompletePath, plan.PlaintextBytes + HeaderRoom);
        var formatted = LuksContainerFormatter.Format(plan.IncompletePath, version, CipherSpec.Default, keys);
        if (formatted.Cipher != CipherSpec.DefaultName)
        {
            throw new InvalidOperationException($"{plan.IncompletePath}: formatted as {formatted.Cipher}, expected {CipherSpec.DefaultName}");
        }

        var geometry = new PayloadGeometry(formatted.PayloadOffset, formatted.SectorSize, plan.PlaintextBytes);
        var warnings = new List<string>();
        if (geometry.PayloadLength != plan.PlaintextBytes)
        {
            var warning = $"{plan.Disk.TargetDev}: {plan.PlaintextBytes} bytes is not a whole number of {geometry.SectorSize}-byte sectors; the guest sees the disk {geometry.PayloadLength - plan.PlaintextBytes} bytes larger (zeros)";
            log.Warning(warning);
            warnings.Add(warning);
        }
        using (var file = new FileStream(plan.IncompletePath, FileMode.Open, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            // Exactly header + payload, so the guest sees the size it had.
            file.SetLength(geometry.ContainerLength);
        }

        return (formatted.Uuid, geometry, warnings);
    }

    private static void CreateSparse(string path, long length)
    {
        using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = OwnerOnlyFile,
        });
        file.SetLength(length);
    }
}
