using System.Globalization;
using System.Security.Cryptography;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Secrets;

/// <summary>
/// LuksVirt accepts exactly the key files cryptsetup accepts by default (up to
/// DEFAULT_KEYFILE_SIZE_MAXKB, 8192 KiB): key files enrolled by the cryptsetup command line are
/// read by <see cref="SecretBuffer.ReadFrom"/> and open the container through libcryptsetup;
/// one byte more is refused by both.
/// </summary>
public sealed class LargeKeyFileTests : IDisposable
{
    private readonly TempDirectory _dir = new("largekey");

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(25_000, 3)]   // the size of cryptsetup's own test key file
    [InlineData(SecretBuffer.MaxKeyLength, 5)]
    public void A_key_file_cryptsetup_enrolled_is_read_and_opens_the_container(int size, int slot)
    {
        using var passphrase = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(_dir, LuksVersion.Luks2, passphrase.Span, slot: 0);
        var keyFile = WriteRandomFile("luks-large.key", size);

        Assert.Equal(0, AddKeyWithCryptsetup(image, passphrase, keyFile, slot).ExitCode);
        using var file = PosixFile.OpenNoFollow(keyFile, out _);
        using var key = SecretBuffer.ReadFrom(file);

        Assert.Equal(size, key.Length);
        Assert.True(key.IsMemoryLocked);
        using var device = CryptDevice.Load(image);
        Assert.Equal(slot, device.TestKey(key.Span));
    }

    [Fact]
    public void A_key_file_one_byte_over_cryptsetups_limit_is_refused_by_both()
    {
        using var passphrase = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(_dir, LuksVersion.Luks2, passphrase.Span, slot: 0);
        var keyFile = WriteRandomFile("luks-huge.key", SecretBuffer.MaxKeyLength + 1);

        var cryptsetup = AddKeyWithCryptsetup(image, passphrase, keyFile, 4);
        using var file = PosixFile.OpenNoFollow(keyFile, out _);
        var refusal = Assert.Throws<InvalidDataException>(() => SecretBuffer.ReadFrom(file));

        Assert.NotEqual(0, cryptsetup.ExitCode);
        Assert.Contains("Maximum keyfile size exceeded", cryptsetup.StandardError, StringComparison.Ordinal);
        Assert.Contains("larger than the limit of 8388608 bytes", refusal.Message, StringComparison.Ordinal);
    }

    /// <summary>cryptsetup luksAddKey with the new key given as a file, read by cryptsetup itself
    /// with its default limit; the existing passphrase on standard input.</summary>
    private static ToolResult AddKeyWithCryptsetup(string image, SecretBuffer passphrase, string newKeyFile, int slot) =>
        ToolRunner.Run("cryptsetup",
            [
                "luksAddKey", "--batch-mode", "--key-file=-", "--new-key-slot", slot.ToString(CultureInfo.InvariantCulture),
                "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", image, newKeyFile,
            ],
            passphrase.Span);

    private string WriteRandomFile(string name, int size)
    {
        var path = _dir.PathOf(name);
        File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(size));
        return path;
    }
}
