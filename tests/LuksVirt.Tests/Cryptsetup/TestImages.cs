using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Cryptsetup;

/// <summary>Sparse image files and cheap formats for the binding tests.</summary>
internal static class TestImages
{
    /// <summary>LUKS1: 2 MiB header area plus data.</summary>
    public const long Luks1Bytes = 4L << 20;

    /// <summary>LUKS2: its default header takes 16 MiB before the data.</summary>
    public const long Luks2Bytes = 20L << 20;

    /// <summary>argon2id at its smallest cost, so LUKS2 tests also cover the argon2 path quickly.</summary>
    public static PbkdfSettings TinyArgon2id { get; } = new(PbkdfKind.Argon2id, Iterations: 4, MemoryKiB: 32, Parallelism: 1);

    public static string CreateEmpty(TempDirectory directory, string name, long bytes)
    {
        var path = directory.PathOf(name);
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        file.SetLength(bytes);
        return path;
    }

    /// <summary>A new image formatted by the binding; returns its path and the slot of <paramref name="key"/>.</summary>
    public static (string Path, int Slot) Format(TempDirectory directory, LuksVersion version, ReadOnlySpan<byte> key, int slot = CryptDevice.AnySlot, PbkdfSettings? pbkdf = null, int volumeKeyBytes = 64)
    {
        var path = CreateEmpty(directory, version == LuksVersion.Luks1 ? "luks1.img" : "luks2.img", version == LuksVersion.Luks1 ? Luks1Bytes : Luks2Bytes);
        using var device = CryptDevice.Open(path);
        var used = device.Format(new LuksFormatOptions(version, VolumeKeyBytes: volumeKeyBytes, Pbkdf: pbkdf ?? PbkdfSettings.MinimalPbkdf2), key, slot);
        return (path, used);
    }

    /// <summary>True when the UTF-8 bytes of <paramref name="text"/> contain <paramref name="key"/>.</summary>
    public static bool Contains(string text, SecretBuffer key) =>
        System.Text.Encoding.UTF8.GetBytes(text).AsSpan().IndexOf(key.Span) >= 0;
}
