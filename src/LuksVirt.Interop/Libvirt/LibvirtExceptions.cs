namespace LuksVirt.Interop.Libvirt;

/// <summary>A libvirt call failed; the message is libvirt's (for a failed start, QEMU's text).</summary>
public class LibvirtException : Exception
{
    public LibvirtException(string function, int code, int errorDomain, string message) : base(message)
    {
        Function = function;
        Code = code;
        ErrorDomain = errorDomain;
    }

    public string Function { get; }

    /// <summary>virErrorNumber.</summary>
    public int Code { get; }

    /// <summary>virErrorDomain.</summary>
    public int ErrorDomain { get; }
}

/// <summary>VIR_ERR_NO_DOMAIN.</summary>
public sealed class DomainNotFoundException(string function, int code, int errorDomain, string message) : LibvirtException(function, code, errorDomain, message);

/// <summary>VIR_ERR_NO_SECRET.</summary>
public sealed class SecretNotFoundException(string function, int code, int errorDomain, string message) : LibvirtException(function, code, errorDomain, message);

/// <summary>The daemon cannot be reached or the connection broke (VIR_ERR_NO_CONNECT, VIR_ERR_SYSTEM_ERROR on connect, VIR_ERR_RPC).</summary>
public sealed class LibvirtConnectionException(string function, int code, int errorDomain, string message) : LibvirtException(function, code, errorDomain, message);

/// <summary>VIR_ERR_OPERATION_INVALID: e.g. starting a running domain.</summary>
public sealed class LibvirtOperationInvalidException(string function, int code, int errorDomain, string message) : LibvirtException(function, code, errorDomain, message);
