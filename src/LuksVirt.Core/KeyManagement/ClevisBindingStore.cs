using System.Globalization;
using LuksVirt.Core.Tang;
using LuksVirt.Core.Tang.Luks1;
using LuksVirt.Interop.Cryptsetup;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.KeyManagement;

/// <summary>One clevis binding as stored: its key slot, where ("clevis token 3", "LUKSMeta slot 1"),
/// its JWE, and the LUKS2 token that holds it (null on LUKS1).</summary>
internal sealed record StoredClevisBinding(int KeySlot, string Location, ClevisJwe Jwe, int? TokenId);

/// <summary>
/// Where clevis keeps its bindings, read and written as clevis does: a "clevis" token naming the
/// slot on LUKS2 (<see cref="ClevisLuks2Token"/>), a LUKSMeta slot under clevis's UUID on LUKS1
/// (<see cref="ClevisLuks1Binding"/>). The caller holds the edit lock and the header snapshot.
/// </summary>
internal static class ClevisBindingStore
{
    /// <summary>CRYPT_ANY_TOKEN: libcryptsetup picks the first free token.</summary>
    private const int AnyToken = -1;

    /// <summary>The problem that keeps a LUKS1 container from holding clevis bindings, or null.</summary>
    public static string? RoomProblem(CryptDevice device, string path)
    {
        if (device.Version != LuksVersion.Luks1)
        {
            return null;
        }

        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        return LuksMeta.DescribeRoom(file) == LuksMetaRoom.NoRoom
            ? $"no room for clevis bindings (LUKSMeta): {path} is LUKS1 with no free space between its key material and its payload; bind a LUKS2 container, or move the data to a container made by 'luksvirt create' (which leaves room)"
            : null;
    }

    /// <summary>Every binding, a malformed one as a problem to show rather than an error.</summary>
    public static IReadOnlyList<ClevisBindingInfo> Describe(CryptDevice device, string path)
    {
        try
        {
            return [.. ReadAll(device, path).Select(b => new ClevisBindingInfo(b.KeySlot, b.Location, ClevisPinDescription.Of(b.Jwe), null))];
        }
        catch (Exception e) when (e is ClevisJweException or InvalidDataException)
        {
            return [new ClevisBindingInfo(null, "clevis binding", null, e.Message)];
        }
    }

    public static IReadOnlyList<StoredClevisBinding> ReadAll(CryptDevice device, string path)
    {
        if (device.Version == LuksVersion.Luks2)
        {
            return [.. ClevisLuks2Token.ReadAll(device).Select(t => new StoredClevisBinding(t.KeySlot, TokenLocation(t.TokenId), t.Jwe, t.TokenId))];
        }

        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        return [.. ClevisLuks1Binding.ReadAll(file).Select(b => new StoredClevisBinding(b.KeySlot, MetaLocation(b.KeySlot), b.Jwe, null))];
    }

    /// <summary>Stores <paramref name="jwe"/> for <paramref name="slot"/>; returns where.</summary>
    public static string Write(CryptDevice device, string path, int slot, ClevisJwe jwe)
    {
        if (device.Version == LuksVersion.Luks2)
        {
            return TokenLocation(device.SetTokenJson(AnyToken, ClevisLuks2Token.Format(slot, jwe)));
        }

        using var file = OpenForWriting(path);
        ClevisLuks1Binding.Write(file, slot, jwe);
        return MetaLocation(slot);
    }

    /// <summary>
    /// Puts <paramref name="jwe"/> in place of <paramref name="old"/>, the old binding valid until
    /// the new one is written. LUKS2: the token is replaced under its own id in one metadata
    /// commit, which LUKS2 makes atomic (two header copies, sequence numbers): no moment with both
    /// or neither, no room needed for two JWEs in the JSON area, and the id keeps its place before
    /// LuksVirt's holder token of the slot (clevis reads only the first token listed for a slot).
    /// LUKS1: the LUKSMeta data is written beside the old and then the header switched.
    /// </summary>
    public static string Replace(CryptDevice device, string path, StoredClevisBinding old, ClevisJwe jwe)
    {
        if (old.TokenId is { } oldToken)
        {
            return TokenLocation(device.SetTokenJson(oldToken, ClevisLuks2Token.Format(old.KeySlot, jwe)));
        }

        using var file = OpenForWriting(path);
        ClevisLuks1Binding.Replace(file, old.KeySlot, jwe);
        return MetaLocation(old.KeySlot);
    }

    public static void Remove(CryptDevice device, string path, StoredClevisBinding binding)
    {
        if (binding.TokenId is { } token)
        {
            device.RemoveToken(token);
            return;
        }

        using var file = OpenForWriting(path);
        ClevisLuks1Binding.Remove(file, binding.KeySlot);
    }

    private static SafeFileHandle OpenForWriting(string path) => File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);

    private static string TokenLocation(int token) => string.Create(CultureInfo.InvariantCulture, $"clevis token {token}");

    private static string MetaLocation(int slot) => string.Create(CultureInfo.InvariantCulture, $"LUKSMeta slot {slot}");
}
