using LuksVirt.Secrets;

namespace LuksVirt.Cryptsetup;

/// <summary>
/// One LUKS container (image file or block device) opened through libcryptsetup
/// (<c>struct crypt_device</c>). Keys are passed as spans from <see cref="SecretBuffer"/>s.
/// Every failing call throws right away: <see cref="WrongKeyException"/> for -EPERM on a key,
/// <see cref="NotLuksException"/>, <see cref="DeviceMapperUnavailableException"/>, else
/// <see cref="CryptsetupException"/> with the function name and errno.
/// </summary>
public sealed class CryptDevice : IDisposable
{
    /// <summary>Let libcryptsetup choose the slot (CRYPT_ANY_SLOT).</summary>
    public const int AnySlot = -1;

    /// <summary>crypt_init without loading a header (for <see cref="Format"/>).</summary>
    public static CryptDevice Open(string deviceOrFile) => throw new NotImplementedException();

    /// <summary>crypt_init + crypt_load(CRYPT_LUKS): LUKS1 or LUKS2, detected.</summary>
    public static CryptDevice Load(string deviceOrFile) => throw new NotImplementedException();

    /// <summary>True when the file or device carries a LUKS1/LUKS2 header.</summary>
    public static bool IsLuks(string deviceOrFile) => throw new NotImplementedException();

    /// <summary>True when a device-mapper mapping of that name is active (crypt_status).</summary>
    public static bool IsMappingActive(string mappingName) => throw new NotImplementedException();

    /// <summary>Whether this kernel offers device-mapper with dm-crypt (needed by the dmcrypt backend).</summary>
    public static bool IsDeviceMapperAvailable => throw new NotImplementedException();

    /// <summary>libcryptsetup's own version string (crypt_get_version... or the soname's).</summary>
    public static string LibraryVersion => throw new NotImplementedException();

    public string DevicePath => throw new NotImplementedException();
    public LuksVersion Version => throw new NotImplementedException();
    public string Uuid => throw new NotImplementedException();
    public string Cipher => throw new NotImplementedException();
    public string CipherMode => throw new NotImplementedException();
    public int VolumeKeyBytes => throw new NotImplementedException();
    public ulong DataOffsetSectors => throw new NotImplementedException();

    /// <summary>Number of key slots of this format (8 for LUKS1, 32 for LUKS2).</summary>
    public int KeySlotCount => throw new NotImplementedException();

    /// <summary>Formats with a fresh random volume key and puts <paramref name="firstKey"/> in
    /// <paramref name="firstSlot"/> using <see cref="LuksFormatOptions.Pbkdf"/>. Returns the slot.</summary>
    public int Format(LuksFormatOptions options, ReadOnlySpan<byte> firstKey, int firstSlot = AnySlot) => throw new NotImplementedException();

    /// <summary>PBKDF for slots added from now on (crypt_set_pbkdf_type).</summary>
    public void SetPbkdf(PbkdfSettings settings) => throw new NotImplementedException();

    /// <summary>Adds <paramref name="newKey"/> authorised by <paramref name="existingKey"/>. Returns the slot.</summary>
    public int AddKey(ReadOnlySpan<byte> existingKey, ReadOnlySpan<byte> newKey, int slot = AnySlot) => throw new NotImplementedException();

    /// <summary>crypt_keyslot_destroy. Does not itself refuse the last slot: callers must.</summary>
    public void DestroySlot(int slot) => throw new NotImplementedException();

    public KeySlotState GetSlotState(int slot) => throw new NotImplementedException();

    public IReadOnlyList<KeySlotState> GetSlotStates() => throw new NotImplementedException();

    /// <summary>Tries a key without activating anything (crypt_activate_by_passphrase with a NULL
    /// name). Returns the slot that opened; throws <see cref="WrongKeyException"/> otherwise.</summary>
    public int TestKey(ReadOnlySpan<byte> key, int slot = AnySlot) => throw new NotImplementedException();

    /// <summary>Creates /dev/mapper/<paramref name="mappingName"/>. Returns the slot used.</summary>
    public int Activate(string mappingName, ReadOnlySpan<byte> key, int slot = AnySlot) => throw new NotImplementedException();

    /// <summary>Removes /dev/mapper/<paramref name="mappingName"/>.</summary>
    public static void Deactivate(string mappingName) => throw new NotImplementedException();

    /// <summary>crypt_header_backup into a file that must not exist yet.</summary>
    public void BackupHeader(string backupFile) => throw new NotImplementedException();

    /// <summary>crypt_header_restore (no UUID check here: callers compare first).</summary>
    public void RestoreHeader(string backupFile) => throw new NotImplementedException();

    /// <summary>LUKS2 token JSON, or null when that token is unused.</summary>
    public string? GetTokenJson(int token) => throw new NotImplementedException();

    /// <summary>Writes LUKS2 token JSON; <paramref name="token"/> -1 picks a free one. Returns its number.</summary>
    public int SetTokenJson(int token, string json) => throw new NotImplementedException();

    public void RemoveToken(int token) => throw new NotImplementedException();

    /// <summary>Assigns a LUKS2 token to a key slot (crypt_token_assign_keyslot).</summary>
    public void AssignTokenToSlot(int token, int slot) => throw new NotImplementedException();

    /// <summary>The volume (master) key, unlocked by <paramref name="key"/>.</summary>
    public SecretBuffer GetVolumeKey(ReadOnlySpan<byte> key, int slot = AnySlot) => throw new NotImplementedException();

    /// <summary>crypt_benchmark: kernel crypto API cipher speed in MiB/s.</summary>
    public static CipherBenchmarkResult BenchmarkCipher(string cipher, string cipherMode, int volumeKeyBytes, int bufferBytes = 1 << 20) => throw new NotImplementedException();

    /// <summary>crypt_benchmark_pbkdf: iterations (pbkdf2) or cost (argon2) reached in the target time.</summary>
    public static uint BenchmarkPbkdf(PbkdfSettings settings, int volumeKeyBytes) => throw new NotImplementedException();

    public void Dispose() => throw new NotImplementedException();
}
