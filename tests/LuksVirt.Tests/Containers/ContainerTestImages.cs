using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using LuksVirt.Core.Headers;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Containers;

/// <summary>A formatted container with its first key (slot 0) in a file, plus the places the
/// key slot commands write to: all inside one per-test directory.</summary>
internal sealed class TestContainer : IDisposable
{
    private TestContainer(TempDirectory directory, LuksVersion version, string image, SecretBuffer adminKey)
    {
        Directory = directory;
        Version = version;
        Image = image;
        AdminKey = adminKey;
        AdminKeyFile = directory.PathOf("admin.key");
        File.WriteAllBytes(AdminKeyFile, adminKey.Span.ToArray());
        File.SetUnixFileMode(AdminKeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        KeysOut = directory.PathOf("keys-out");
        System.IO.Directory.CreateDirectory(KeysOut);
        Registry = directory.PathOf("state/holders.json");
        LockDirectory = directory.PathOf("run");
    }

    public TempDirectory Directory { get; }

    public LuksVersion Version { get; }

    public string Image { get; }

    /// <summary>The key of slot 0 (a generated, printable key).</summary>
    public SecretBuffer AdminKey { get; }

    public string AdminKeyFile { get; }

    public string KeysOut { get; }

    public string Registry { get; }

    public string LockDirectory { get; }

    /// <summary>LUKS1 (4 MiB) or LUKS2 (20 MiB) sparse image, minimal PBKDF2, admin key in slot 0.</summary>
    public static TestContainer Create(LuksVersion version)
    {
        var directory = new TempDirectory("ks");
        var key = SecretBuffer.GeneratePrintableKey();
        var (image, slot) = TestImages.Format(directory, version, key.Span, slot: 0);
        Assert.Equal(0, slot);
        return new TestContainer(directory, version, image, key);
    }

    public KeySlotEditorOptions Options(Action<HeaderChangeStep>? afterStep = null) => new()
    {
        RegistryPath = Registry,
        LockDirectory = LockDirectory,
        AfterStep = afterStep,
    };

    public KeySlotEditor OpenEditor(Action<HeaderChangeStep>? afterStep = null) => KeySlotEditor.Open(Image, Options(afterStep));

    /// <summary>Every byte before the encrypted data: what a refusal must leave untouched.</summary>
    public byte[] ReadHeader() => ReadHeader(Image);

    public static byte[] ReadHeader(string image)
    {
        long length;
        using (var device = CryptDevice.Load(image))
        {
            length = checked((long)device.DataOffsetSectors * 512);
        }

        var bytes = new byte[length];
        using var file = File.OpenRead(image);
        file.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Reads a key file LuksVirt wrote (tests only hold keys in SecretBuffers).</summary>
    public static SecretBuffer ReadKeyFile(string path) => SecretBuffer.CopyOf(File.ReadAllBytes(path));

    public string KeyFileOf(string holder, int slot) => Path.Combine(KeysOut, string.Create(CultureInfo.InvariantCulture, $"luks-{holder}.{slot}.key"));

    /// <summary>Enrols <paramref name="key"/> in <paramref name="slot"/> behind LuksVirt's back
    /// (cryptsetup CLI, no holder record), e.g. to fill every slot.</summary>
    public void EnrolWithCryptsetup(ReadOnlySpan<byte> key, int slot) => CryptsetupCli.AddKey(Image, AdminKey.Span, key, slot);

    /// <summary>The slot's PBKDF as cryptsetup reads it: ("pbkdf2", iterations) or ("argon2id", time cost).</summary>
    public (string Type, long Cost) SlotKdf(int slot)
    {
        if (Version == LuksVersion.Luks1)
        {
            // LUKS1 phdr: 208 bytes, then 8 key slots of 48 bytes: active (u32 BE), iterations (u32 BE), ...
            var header = File.ReadAllBytes(Image).AsSpan(0, 592);
            var iterations = BinaryPrimitives.ReadUInt32BigEndian(header[(208 + (48 * slot) + 4)..]);
            return ("pbkdf2", iterations);
        }

        using var dump = CryptsetupCli.DumpJson(Image);
        var kdf = dump.RootElement.GetProperty("keyslots").GetProperty(slot.ToString(CultureInfo.InvariantCulture)).GetProperty("kdf");
        var type = kdf.GetProperty("type").GetString()!;
        var cost = kdf.TryGetProperty("iterations", out var iterationsElement) ? iterationsElement.GetInt64() : kdf.GetProperty("time").GetInt64();
        return (type, cost);
    }

    /// <summary>LUKS2 tokens as the cryptsetup CLI sees them.</summary>
    public List<JsonElement> Luks2Tokens()
    {
        using var dump = CryptsetupCli.DumpJson(Image);
        return dump.RootElement.GetProperty("tokens").EnumerateObject().Select(t => t.Value.Clone()).ToList();
    }

    public void Dispose()
    {
        AdminKey.Dispose();
        Directory.Dispose();
    }
}
