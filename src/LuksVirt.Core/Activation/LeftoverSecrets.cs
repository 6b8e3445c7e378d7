using LuksVirt.Core.Logging;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Activation;

/// <summary>A libvirt secret LuksVirt made that libvirt still holds: while it exists, libvirtd
/// keeps the key of <paramref name="ContainerPath"/> and can start a guest with it.</summary>
public sealed record LuksVirtSecret(Guid Uuid, string ContainerPath);

/// <summary>
/// Finds and removes the libvirt secrets an interrupted run left behind (kill -9, a crash, a
/// connection lost before the secret could be removed). Every run that hands keys to libvirt
/// holds the run lock until its secrets are gone again, so a caller that holds the run lock and
/// finds a secret of LuksVirt's (<see cref="SecretOwnership"/>) knows no run is using it: it is
/// a leftover. Secrets LuksVirt did not make are never touched.
/// </summary>
public static class LeftoverSecrets
{
    /// <summary>Every secret of LuksVirt's that libvirt holds now. Reads only; a secret that
    /// disappears while it is being looked at is skipped.</summary>
    public static IReadOnlyList<LuksVirtSecret> Find(LibvirtConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var found = new List<LuksVirtSecret>();
        ForEachLuksVirtSecret(connection, (_, secret) => found.Add(secret));
        return found;
    }

    /// <summary>
    /// Removes every secret of LuksVirt's; the caller must hold the run lock. With
    /// <paramref name="dryRun"/> it only says what it would remove. Never throws for a libvirt
    /// error: each is logged, and the secrets it could not remove are the next run's to sweep.
    /// Returns the secrets removed (or, in a dry run, found).
    /// </summary>
    public static IReadOnlyList<LuksVirtSecret> Sweep(LibvirtConnection connection, ActivityLog log, bool dryRun = false)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(log);
        var swept = new List<LuksVirtSecret>();
        try
        {
            ForEachLuksVirtSecret(connection, (handle, secret) =>
            {
                if (dryRun)
                {
                    log.Warning($"libvirt secret {secret.Uuid} still holds the key of {secret.ContainerPath} (left by an interrupted run); dry run: not removed");
                    swept.Add(secret);
                    return;
                }

                try
                {
                    handle.Undefine();
                    swept.Add(secret);
                    log.Warning($"libvirt secret {secret.Uuid} held the key of {secret.ContainerPath}, left by an interrupted run: removed");
                }
                catch (SecretNotFoundException)
                {
                    // Gone in the meantime: nothing holds the key any more.
                }
                catch (LibvirtException e)
                {
                    log.Error($"libvirt secret {secret.Uuid} holds the key of {secret.ContainerPath} and cannot be removed: {e.Message}; " +
                        $"remove it by hand: virsh secret-undefine {secret.Uuid}");
                }
            });
        }
        catch (LibvirtException e)
        {
            log.Error($"cannot look for libvirt secrets left by an interrupted run: {e.Message}");
        }

        return swept;
    }

    private static void ForEachLuksVirtSecret(LibvirtConnection connection, Action<LibvirtSecret, LuksVirtSecret> action)
    {
        var secrets = connection.ListAllSecrets();
        try
        {
            foreach (var secret in secrets)
            {
                if (TryDescribe(secret) is { } own)
                {
                    action(secret, own);
                }
            }
        }
        finally
        {
            foreach (var secret in secrets)
            {
                secret.Dispose();
            }
        }
    }

    private static LuksVirtSecret? TryDescribe(LibvirtSecret secret)
    {
        try
        {
            return SecretOwnership.IsLuksVirts(secret.GetXml(), out var containerPath)
                ? new LuksVirtSecret(secret.Uuid, containerPath)
                : null;
        }
        catch (SecretNotFoundException)
        {
            // Undefined between the listing and this look: not there, so not left over.
            return null;
        }
    }
}
