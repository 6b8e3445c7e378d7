using System.Runtime.InteropServices;
using static LuksVirt.Interop.Interop.Libvirt;

namespace LuksVirt.Interop.Libvirt;

/// <summary>
/// The one error path of the libvirt binding. libvirt keeps the last error per thread and resets
/// it at the start of every API call, so <see cref="Create"/> must run right after the failing
/// call: before any other libvirt call and before any await.
/// </summary>
internal static class LibvirtErrors
{
    /// <summary>Reads the calling thread's libvirt error and maps it to a typed exception.
    /// <paramref name="opening"/> marks a failed virConnectOpen: whatever libvirt reports, the
    /// caller has no connection.</summary>
    internal static unsafe LibvirtException Create(string function, bool opening = false)
    {
        var error = GetLastError();
        if (error is null)
        {
            return new LibvirtException(function, ErrorNumber.Ok, 0, $"{function} failed without reporting an error");
        }

        var code = error->Code;
        var domain = error->Domain;
        var message = Marshal.PtrToStringUTF8(error->Message) ?? $"{function} failed (libvirt error {code})";

        if (opening || IsConnectionFailure(code, domain))
        {
            return new LibvirtConnectionException(function, code, domain, message);
        }

        return code switch
        {
            ErrorNumber.NoDomain => new DomainNotFoundException(function, code, domain, message),
            ErrorNumber.NoSecret => new SecretNotFoundException(function, code, domain, message),
            ErrorNumber.OperationInvalid => new LibvirtOperationInvalidException(function, code, domain, message),
            _ => new LibvirtException(function, code, domain, message),
        };
    }

    /// <summary>Errors of the transport, not of the request: the daemon is gone or unreachable.
    /// Everything the client's RPC layer raises itself (EOF, closed socket, keepalive timeout)
    /// carries VIR_FROM_RPC; the daemon's own errors keep the domain of their origin.</summary>
    private static bool IsConnectionFailure(int code, int domain) =>
        code is ErrorNumber.NoConnect or ErrorNumber.InvalidConnection or ErrorNumber.Rpc
        || domain == ErrorDomain.Rpc
        || (code == ErrorNumber.SystemError && domain is ErrorDomain.Remote or ErrorDomain.Ssh or ErrorDomain.Libssh);
}
