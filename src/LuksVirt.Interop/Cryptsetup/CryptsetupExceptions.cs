namespace LuksVirt.Interop.Cryptsetup;

/// <summary>A libcryptsetup call failed. <see cref="Errno"/> is the positive errno it returned.</summary>
public class CryptsetupException : IOException
{
    public CryptsetupException(string function, int errno, string message) : base(message)
    {
        Function = function;
        Errno = errno;
    }

    public string Function { get; }
    public int Errno { get; }
}

/// <summary>No key slot opened with the given key (libcryptsetup returned -EPERM).</summary>
public sealed class WrongKeyException(string function, int errno, string message) : CryptsetupException(function, errno, message);

/// <summary>The file or device has no LUKS header (not even the LUKS signature).</summary>
public sealed class NotLuksException(string function, int errno, string message) : CryptsetupException(function, errno, message);

/// <summary>
/// The file or device carries the LUKS signature, but libcryptsetup refuses its header (an invalid
/// key slot, overlapping areas, both LUKS2 checksums wrong...). The message says so, gives
/// libcryptsetup's <see cref="Reason"/> and names the fix, a header restore from a backup.
/// </summary>
public sealed class DamagedHeaderException(string function, int errno, string message, string reason, string? recordedUuid)
    : CryptsetupException(function, errno, message)
{
    /// <summary>What libcryptsetup logged about the fault, e.g. "LUKS keyslot 0 is invalid".</summary>
    public string Reason { get; } = reason;

    /// <summary>The UUID the damaged header still records, or null when that field is damaged too.</summary>
    public string? RecordedUuid { get; } = recordedUuid;
}

/// <summary>The kernel offers no device-mapper / dm-crypt (as on the build machine).</summary>
public sealed class DeviceMapperUnavailableException(string function, int errno, string message) : CryptsetupException(function, errno, message);

/// <summary>The kernel offers no crypto user-space API (AF_ALG), so libcryptsetup cannot measure
/// or use kernel ciphers from user space (as on the build machine).</summary>
public sealed class KernelCryptoApiUnavailableException(string function, int errno, string message) : CryptsetupException(function, errno, message);
