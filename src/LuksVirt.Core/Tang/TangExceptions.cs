namespace LuksVirt.Core.Tang;

/// <summary>
/// A Tang server or a clevis binding could not give a key. The message says what failed and what
/// would fix it; it never contains key material (the payloads involved are public points,
/// thumbprints and URLs). No key was produced.
/// </summary>
internal abstract class TangException : Exception
{
    protected TangException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>The server could not be reached or did not answer in time: a retry later may help.</summary>
internal sealed class TangServerUnreachableException(string message, Exception? innerException = null) : TangException(message, innerException);

/// <summary>The server answered, but not as a Tang server does: an HTTP error, a redirect, a
/// reply too large, or a body that is not the JSON expected.</summary>
internal sealed class TangProtocolException(string message, Exception? innerException = null) : TangException(message, innerException);

/// <summary>An advertisement that is malformed or whose signatures do not verify.</summary>
internal sealed class TangAdvertisementException(string message, Exception? innerException = null) : TangException(message, innerException);

/// <summary>A well-signed advertisement, but not by a key the administrator trusts.</summary>
internal sealed class TangUntrustedAdvertisementException(string message) : TangException(message);

/// <summary>A clevis JWE that is malformed, not for the tang pin, or that the recovered key does
/// not open (altered, or made for another server).</summary>
internal sealed class ClevisJweException(string message, Exception? innerException = null) : TangException(message, innerException);

/// <summary>The server does not hold the exchange key a binding names: the binding was made for
/// another server, or the key was rotated out. Retrying will not help; rebinding will.</summary>
internal sealed class TangKeyNotFoundException(string message) : TangException(message);
