using System.Runtime.InteropServices;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Interop.Cryptsetup;

/// <summary>
/// One LUKS container (image file or block device) opened through libcryptsetup
/// (<c>struct crypt_device</c>). Keys are passed as spans from <see cref="SecretBuffer"/>s.
/// Every failing call throws right away: <see cref="WrongKeyException"/> for -EPERM on a key,
/// <see cref="NotLuksException"/>, <see cref="DamagedHeaderException"/>, <see cref="DeviceMapperUnavailableException"/>, else
/// <see cref="CryptsetupException"/> with the function name and errno.
/// </summary>
/// <remarks>
/// Not thread-safe: a libcryptsetup context must not be used from two threads at once, so one
/// <see cref="CryptDevice"/> must not either (callers serialise, e.g. one trial per device at a
/// time). Separate instances, also on the same container, may run on separate threads in
/// parallel. The static members are safe from any thread.
/// </remarks>
public sealed partial class CryptDevice : IDisposable
{
    /// <summary>Let libcryptsetup choose the slot (CRYPT_ANY_SLOT).</summary>
    public const int AnySlot = -1;

    private readonly SafeCryptDeviceHandle _handle;

    private CryptDevice(SafeCryptDeviceHandle handle, string devicePath)
    {
        _handle = handle;
        DevicePath = devicePath;
    }

    /// <summary>crypt_init without loading a header (for <see cref="Format"/>).</summary>
    public static CryptDevice Open(string deviceOrFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceOrFile);
        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.Init(out var handle, deviceOrFile);
        if (result < 0)
        {
            handle.Dispose();
            throw CryptsetupErrors.Create("crypt_init", result, deviceOrFile);
        }

        return new CryptDevice(handle, deviceOrFile);
    }

    /// <summary>crypt_init + crypt_load(CRYPT_LUKS): LUKS1 or LUKS2, detected. Throws
    /// <see cref="NotLuksException"/> when the device carries no LUKS signature at all, and
    /// <see cref="DamagedHeaderException"/> when it does but libcryptsetup refuses the header.</summary>
    public static CryptDevice Load(string deviceOrFile)
    {
        var device = Open(deviceOrFile);
        var result = device.TryLoad();
        if (result < 0)
        {
            device.Dispose();
            throw CryptsetupErrors.HeaderLoad(deviceOrFile, result);
        }

        return device;
    }

    /// <summary>True when the file or device carries a LUKS1/LUKS2 header that loads; false when
    /// it carries no LUKS signature. Throws <see cref="DamagedHeaderException"/> for a damaged
    /// header, and <see cref="CryptsetupException"/> when it cannot be read at all (missing, no access).</summary>
    public static bool IsLuks(string deviceOrFile)
    {
        using var device = Open(deviceOrFile);
        var result = device.TryLoad();
        if (result >= 0)
        {
            return true;
        }

        var error = CryptsetupErrors.HeaderLoad(deviceOrFile, result);
        return error is NotLuksException ? false : throw error;
    }

    /// <summary>libcryptsetup's own version: 2.6 has no call for it, so this is the real file
    /// name behind the soname in use, e.g. "libcryptsetup.so.12.9.0" (Debian's 2.6.1).</summary>
    public static string LibraryVersion => CryptsetupLibraryFile.FileName;

    /// <summary>The path given to <see cref="Open"/> or <see cref="Load"/>.</summary>
    public string DevicePath { get; }

    /// <summary>LUKS1 or LUKS2; throws <see cref="InvalidOperationException"/> before format or load.</summary>
    public LuksVersion Version => ReadString(Interop.Cryptsetup.GetDeviceType(Handle)) switch
    {
        Interop.Cryptsetup.TypeLuks1 => LuksVersion.Luks1,
        Interop.Cryptsetup.TypeLuks2 => LuksVersion.Luks2,
        var other => throw new InvalidOperationException($"{DevicePath}: not a loaded LUKS context (type {other ?? "none"})"),
    };

    public string Uuid => ReadString(Interop.Cryptsetup.GetUuid(Handle)) ?? throw NotLoaded();

    /// <summary>Cipher name, e.g. "aes".</summary>
    public string Cipher => ReadString(Interop.Cryptsetup.GetCipher(Handle)) ?? throw NotLoaded();

    /// <summary>Mode with IV generator, e.g. "xts-plain64".</summary>
    public string CipherMode => ReadString(Interop.Cryptsetup.GetCipherMode(Handle)) ?? throw NotLoaded();

    public int VolumeKeyBytes
    {
        get
        {
            var size = Interop.Cryptsetup.GetVolumeKeySize(Handle);
            return size > 0 ? size : throw NotLoaded();
        }
    }

    /// <summary>Where the encrypted data starts, in 512-byte sectors (the header lies before it).</summary>
    public ulong DataOffsetSectors => Interop.Cryptsetup.GetDataOffset(Handle);

    /// <summary>Number of key slots of this format (8 for LUKS1, 32 for LUKS2).</summary>
    public int KeySlotCount => Interop.Cryptsetup.KeyslotMax(Version == LuksVersion.Luks1 ? Interop.Cryptsetup.TypeLuks1 : Interop.Cryptsetup.TypeLuks2);

    public void Dispose() => _handle.Dispose();

    private SafeCryptDeviceHandle Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle;
        }
    }

    /// <summary>"path" or "path, key slot N" for messages.</summary>
    private string SlotSubject(int slot) => slot == AnySlot ? DevicePath : $"{DevicePath}, key slot {slot}";

    private int TryLoad()
    {
        CryptsetupLog.BeginCall();
        return Interop.Cryptsetup.Load(Handle, null, 0);
    }

    private InvalidOperationException NotLoaded() => new($"{DevicePath}: no LUKS header loaded or formatted in this context");

    // The library owns the string and may reuse it on the next call: copy at once.
    private static string? ReadString(nint utf8) => Marshal.PtrToStringUTF8(utf8);

    private static void RequireKey(ReadOnlySpan<byte> key, string parameterName)
    {
        if (key.IsEmpty)
        {
            throw new ArgumentException("the key is empty", parameterName);
        }
    }
}
