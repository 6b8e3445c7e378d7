using System.Net.Sockets;
using System.Text;

namespace LuksVirt.Service;

/// <summary>
/// sd_notify(3) without libsystemd: one datagram such as "READY=1" to the unix socket named by
/// $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Without the variable (not
/// started by systemd with Type=notify) it does nothing.
/// </summary>
internal static class SystemdNotifier
{
    public const string Variable = "NOTIFY_SOCKET";

    /// <summary>Sends <paramref name="state"/> (newline-separated assignments); returns false when
    /// there is no notification socket. Throws <see cref="SocketException"/> when sending fails.</summary>
    public static bool Notify(string state)
    {
        ArgumentException.ThrowIfNullOrEmpty(state);
        var address = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(address) || address[0] is not ('/' or '@'))
        {
            // Unset, or a vsock address, which only VMs use.
            return false;
        }

        var endPoint = new UnixDomainSocketEndPoint(address[0] == '@' ? "\0" + address[1..] : address);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.SendTo(Encoding.UTF8.GetBytes(state), endPoint);
        return true;
    }
}
