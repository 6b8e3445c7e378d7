using System.Runtime.InteropServices;

namespace LuksVirt.Interop.Cryptsetup;

public sealed partial class CryptDevice
{
    /// <summary>crypt_header_backup into a file that must not exist yet (libcryptsetup creates
    /// it exclusively, read-only for its owner, and refuses an existing one).</summary>
    public void BackupHeader(string backupFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(backupFile);
        var handle = Handle;
        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.HeaderBackup(handle, null, backupFile);
        if (result < 0)
        {
            throw CryptsetupErrors.Create("crypt_header_backup", result, $"{DevicePath} -> {backupFile}");
        }
    }

    /// <summary>crypt_header_restore (no UUID check here: callers compare first). This context
    /// holds the restored header afterwards.</summary>
    public void RestoreHeader(string backupFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(backupFile);
        var handle = Handle;
        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.HeaderRestore(handle, null, backupFile);
        if (result < 0)
        {
            throw CryptsetupErrors.Create("crypt_header_restore", result, $"{backupFile} -> {DevicePath}");
        }
    }

    /// <summary>LUKS2 token JSON, or null when that token is unused.</summary>
    public string? GetTokenJson(int token)
    {
        var handle = Handle;
        CryptsetupLog.BeginCall();
        if (Interop.Cryptsetup.TokenStatus(handle, token, 0) == Interop.Cryptsetup.TokenInactive)
        {
            return null;
        }

        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.TokenJsonGet(handle, token, out var json);
        return result >= 0
            ? Marshal.PtrToStringUTF8(json)
            : throw CryptsetupErrors.Create("crypt_token_json_get", result, $"{DevicePath}, token {token}");
    }

    /// <summary>Writes LUKS2 token JSON; <paramref name="token"/> -1 picks a free one. Returns its number.
    /// The JSON needs a string "type" and an array "keyslots" (of slot numbers as strings, may be empty).</summary>
    public int SetTokenJson(int token, string json)
    {
        ArgumentException.ThrowIfNullOrEmpty(json);
        var handle = Handle;
        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.TokenJsonSet(handle, token, json);
        return result >= 0 ? result : throw CryptsetupErrors.Create("crypt_token_json_set", result, $"{DevicePath}, token {token}");
    }

    public void RemoveToken(int token)
    {
        var handle = Handle;
        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.TokenJsonSet(handle, token, null);
        if (result < 0)
        {
            throw CryptsetupErrors.Create("crypt_token_json_set", result, $"{DevicePath}, token {token}");
        }
    }

    /// <summary>Assigns a LUKS2 token to a key slot (crypt_token_assign_keyslot).</summary>
    internal void AssignTokenToSlot(int token, int slot)
    {
        var handle = Handle;
        CryptsetupLog.BeginCall();
        var result = Interop.Cryptsetup.TokenAssignKeyslot(handle, token, slot);
        if (result < 0)
        {
            throw CryptsetupErrors.Create("crypt_token_assign_keyslot", result, $"{SlotSubject(slot)}, token {token}");
        }
    }
}
