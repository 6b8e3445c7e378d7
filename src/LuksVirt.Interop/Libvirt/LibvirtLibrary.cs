using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LuksVirt.Interop.Libvirt;

/// <summary>
/// Once per process, before any other libvirt call: initialise the library (required before
/// several threads use it) and install an error handler that does nothing, because libvirt's
/// default handler prints every error to stderr; errors reach callers as exceptions instead.
/// </summary>
internal static class LibvirtLibrary
{
    private static readonly Lock Gate = new();
    private static bool _initialized;

    internal static unsafe void EnsureInitialized()
    {
        lock (Gate)
        {
            if (_initialized)
            {
                return;
            }

            // Silence first, so not even a failing virInitialize writes to stderr.
            Interop.Libvirt.SetErrorFunc(0, &IgnoreError);
            if (Interop.Libvirt.Initialize() < 0)
            {
                throw LibvirtErrors.Create("virInitialize");
            }

            _initialized = true;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void IgnoreError(nint userData, Interop.Libvirt.Error* error)
    {
        // Deliberately empty: the error stays readable through virGetLastError.
    }
}
