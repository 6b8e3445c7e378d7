using System.Runtime.InteropServices;

namespace LuksVirt.Interop.Cryptsetup;

/// <summary>A NUL-terminated UTF-8 copy of a (non-secret) string in native memory, for string
/// members of the structs libcryptsetup takes; freed on dispose. Null stays NULL.</summary>
internal readonly unsafe ref struct NativeUtf8String
{
    private readonly nint _pointer;

    public NativeUtf8String(string? value) => _pointer = value is null ? 0 : Marshal.StringToCoTaskMemUTF8(value);

    public byte* Pointer => (byte*)_pointer;

    public void Dispose() => Marshal.FreeCoTaskMem(_pointer);
}
