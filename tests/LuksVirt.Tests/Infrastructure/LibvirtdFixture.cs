using System.Security.Cryptography;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Tests.Infrastructure;

/// <summary>
/// The real libvirtd with QEMU at qemu:///system, checked once per test collection "libvirtd".
/// When it cannot be reached every test of the collection fails (never skips) with a message
/// that names scripts/setup.sh. Tests open their own connections (<see cref="Open"/>) so that
/// disposing one never disturbs another test.
/// </summary>
public sealed class LibvirtdFixture
{
    public const string CollectionName = "libvirtd";

    public LibvirtdFixture()
    {
        try
        {
            using var connection = LibvirtConnection.Open(Uri);
            if (!connection.IsAlive || connection.HypervisorType != "QEMU")
            {
                throw new InvalidOperationException($"{Uri} answered but is not a live QEMU connection (type {connection.HypervisorType})");
            }

            DaemonVersion = connection.DaemonVersion;
        }
        catch (LibvirtException exception)
        {
            throw new InvalidOperationException(
                $"libvirtd is not reachable at {Uri}: {exception.Message}. Run scripts/setup.sh (as root) to install and start it.",
                exception);
        }
    }

    /// <summary>The system URI every real-service test uses.</summary>
    public string Uri { get; } = LibvirtConnection.DefaultUri;

    public ulong DaemonVersion { get; }

    public LibvirtConnection Open() => LibvirtConnection.Open(Uri);

    /// <summary>"lvt-" and 8 random hex characters: a domain or object name no other test (nor a
    /// rerun after a crash) uses, and easy to spot and clean up by hand.</summary>
    public static string UniqueName() => "lvt-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    /// <summary>QEMU's log for a domain (where QEMU's own errors land), for failure messages.</summary>
    public static string QemuLogOf(string domainName)
    {
        var path = Path.Combine("/var/log/libvirt/qemu", domainName + ".log");
        return File.Exists(path) ? File.ReadAllText(path) : $"(no {path})";
    }
}

[CollectionDefinition(LibvirtdFixture.CollectionName)]
public sealed class LibvirtdCollectionDefinition : ICollectionFixture<LibvirtdFixture>;
