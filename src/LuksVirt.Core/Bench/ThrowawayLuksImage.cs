using System.Globalization;
using System.Text.Json.Serialization;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Bench;

/// <summary>Who wrote the LUKS1 header of a benchmark image.</summary>
public enum LuksImageCreator
{
    /// <summary>libcryptsetup, as <c>luksvirt create</c> does.</summary>
    [JsonStringEnumMemberName("libcryptsetup")]
    Libcryptsetup,

    /// <summary>QEMU itself (<c>qemu-img create -f luks</c>): libcryptsetup needs the kernel
    /// crypto API for ciphers OpenSSL lacks (serpent, twofish), QEMU brings its own.</summary>
    [JsonStringEnumMemberName("qemu-img")]
    QemuImg,
}

/// <summary>
/// A sparse LUKS1 image file for one benchmark pass, protecting nothing: a random printable key
/// and the minimal PBKDF2 cost, so opening it costs milliseconds.
/// </summary>
internal static class ThrowawayLuksImage
{
    // Room for the LUKS1 header and key slots (2 MiB with a 512-bit key) before the payload.
    private const long HeaderRoomBytes = 4L << 20;

    // QEMU's PBKDF calibration now and then fails on a fast CPU ("Unable to get accurate CPU
    // usage": a 32768-iteration trial finished within one clock tick); a new run succeeds.
    private const int QemuImgAttempts = 3;

    // QEMU calibrates PBKDF2 to this many milliseconds; it has no fixed-iterations option.
    private const int QemuImgIterTimeMs = 10;

    /// <summary>Creates <paramref name="path"/> (must not exist) with a payload of at least
    /// <paramref name="payloadBytes"/>. Throws <see cref="ThrowawayImageException"/> when neither
    /// libcryptsetup nor qemu-img can make it, with both reasons.</summary>
    public static async Task<LuksImageCreator> CreateAsync(string path, BenchCipher cipher, long payloadBytes, SecretBuffer key, CancellationToken cancellationToken)
    {
        string libraryError;
        try
        {
            FormatWithLibcryptsetup(path, cipher, payloadBytes, key);
            return LuksImageCreator.Libcryptsetup;
        }
        catch (CryptsetupException error)
        {
            libraryError = error.Message;
            File.Delete(path);
        }

        QemuToolRun? run = null;
        for (var attempt = 0; attempt < QemuImgAttempts; attempt++)
        {
            run = await QemuToolProcess.RunAsync("qemu-img", QemuImgCreateArguments(path, cipher, payloadBytes), key, cancellationToken).ConfigureAwait(false);
            if (run.Succeeded)
            {
                return LuksImageCreator.QemuImg;
            }

            File.Delete(path);
        }

        throw new ThrowawayImageException($"cannot create a {cipher.Label} LUKS1 image: libcryptsetup: {libraryError}; qemu-img create exited {run!.ExitCode}: {run.StandardError}");
    }

    private static void FormatWithLibcryptsetup(string path, BenchCipher cipher, long payloadBytes, SecretBuffer key)
    {
        // Sparse: only what gets written takes space. An I/O error here (disk full, no
        // permission) fails the whole native measurement, not just this cipher.
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            file.SetLength(payloadBytes + HeaderRoomBytes);
        }

        using var device = CryptDevice.Open(path);
        device.Format(new LuksFormatOptions(LuksVersion.Luks1, cipher.Cipher, cipher.Mode, cipher.KeyBytes, PbkdfSettings.MinimalPbkdf2), key.Span);
    }

    private static List<string> QemuImgCreateArguments(string path, BenchCipher cipher, long payloadBytes)
    {
        var options = string.Create(CultureInfo.InvariantCulture,
            $"key-secret={QemuToolProcess.SecretId},cipher-alg={cipher.Cipher}-{cipher.CipherKeyBits},cipher-mode={cipher.BlockMode},hash-alg=sha256,iter-time={QemuImgIterTimeMs}");
        var ivGenerator = cipher.IvGenerator.Split(':');
        options += $",ivgen-alg={ivGenerator[0]}";
        if (ivGenerator.Length > 1)
        {
            options += $",ivgen-hash-alg={ivGenerator[1]}";
        }

        return
        [
            "create", "-q", "--object", QemuToolProcess.SecretObjectArgument,
            "-f", "luks", "-o", options, path, payloadBytes.ToString(CultureInfo.InvariantCulture),
        ];
    }
}

/// <summary>A benchmark image could not be made; the message names every reason.</summary>
internal sealed class ThrowawayImageException(string message) : Exception(message);
