using System.Runtime.InteropServices;

namespace LuksVirt.Interop.OpenSsl;

/// <summary>An OpenSSL (libcrypto) call failed; the message carries OpenSSL's own reason text.</summary>
public sealed class OpenSslException(string function, string message) : Exception(message)
{
    public string Function { get; } = function;
}

/// <summary>The one place where a failed libcrypto call becomes an exception: it drains
/// OpenSSL's thread-local error queue, so call it right after the failure on the same thread.</summary>
internal static class OpenSslErrors
{
    private const int ErrorTextLength = 256;

    internal static unsafe OpenSslException Create(string function)
    {
        var reasons = new List<string>();
        var buffer = stackalloc byte[ErrorTextLength];
        for (var error = Interop.OpenSsl.ErrorGet(); error != 0; error = Interop.OpenSsl.ErrorGet())
        {
            Interop.OpenSsl.ErrorString(error, buffer, ErrorTextLength);
            reasons.Add(Marshal.PtrToStringUTF8((nint)buffer) ?? $"error {error:x}");
        }

        var detail = reasons.Count == 0 ? "no reason given" : string.Join("; ", reasons);
        return new OpenSslException(function, $"{function} failed: {detail}");
    }

    /// <summary>Returns <paramref name="handle"/> when the allocation that made it succeeded; else
    /// disposes it and throws with OpenSSL's reason.</summary>
    internal static T ThrowIfInvalid<T>(T handle, string function)
        where T : SafeHandle
    {
        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw Create(function);
        }

        return handle;
    }

    /// <summary>Empties the error queue after a failure that is reported otherwise (an input the
    /// library refused), so the stale reasons do not end up in a later, unrelated exception.</summary>
    internal static void Discard()
    {
        while (Interop.OpenSsl.ErrorGet() != 0)
        {
        }
    }
}
