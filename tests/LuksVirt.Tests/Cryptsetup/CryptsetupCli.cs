using System.Globalization;
using System.Text.Json;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Cryptsetup;

/// <summary>The cryptsetup command line as an independent witness of what the binding wrote.
/// Keys go through standard input (--key-file=-), never argv.</summary>
internal static class CryptsetupCli
{
    // cryptsetup's exit code for "no permission (bad passphrase)".
    private const int ExitWrongPassphrase = 2;

    /// <summary>True when <paramref name="key"/> opens <paramref name="slot"/> (null: any slot);
    /// false when cryptsetup says the passphrase is wrong; throws on any other failure (such as
    /// an inactive <paramref name="slot"/>).</summary>
    public static bool Opens(string image, ReadOnlySpan<byte> key, int? slot = null)
    {
        List<string> arguments = ["open", "--test-passphrase", "--key-file=-"];
        if (slot is { } only)
        {
            arguments.AddRange(["--key-slot", only.ToString(CultureInfo.InvariantCulture)]);
        }

        arguments.Add(image);
        var result = ToolRunner.Run("cryptsetup", arguments, key);
        return result.ExitCode switch
        {
            0 => true,
            ExitWrongPassphrase => false,
            _ => throw new InvalidOperationException($"cryptsetup open --test-passphrase exited {result.ExitCode}: {result.StandardError}"),
        };
    }

    public static bool IsLuks(string image, LuksVersion version) =>
        ToolRunner.Run("cryptsetup", "isLuks", "--type", version == LuksVersion.Luks1 ? "luks1" : "luks2", image).ExitCode == 0;

    public static string Uuid(string image) =>
        ToolRunner.Run("cryptsetup", "luksUUID", image).EnsureSuccess("cryptsetup luksUUID").StandardOutput.Trim();

    /// <summary>The volume key as cryptsetup itself derives it (luksDump --dump-volume-key),
    /// <paramref name="key"/> on standard input; the key file goes to
    /// <paramref name="scratchDirectory"/> and is deleted again.</summary>
    public static SecretBuffer VolumeKey(string image, ReadOnlySpan<byte> key, string scratchDirectory)
    {
        var file = Path.Combine(scratchDirectory, "volume-key-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            ToolRunner.Run("cryptsetup", ["luksDump", "--dump-volume-key", "--volume-key-file", file, "--key-file=-", "--batch-mode", image], key)
                .EnsureSuccess("cryptsetup luksDump --dump-volume-key");
            return SecretBuffer.CopyOf(File.ReadAllBytes(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>LUKS2 metadata as cryptsetup itself reads it.</summary>
    public static JsonDocument DumpJson(string image) =>
        JsonDocument.Parse(ToolRunner.Run("cryptsetup", "luksDump", "--dump-json-metadata", image).EnsureSuccess("cryptsetup luksDump").StandardOutput);

    /// <summary>luksAddKey with both keys on standard input: the first <c>--keyfile-size</c> bytes
    /// are the existing key, the rest (to end of input) the new one. Cheap PBKDF2 to stay fast.</summary>
    public static void AddKey(string image, ReadOnlySpan<byte> existingKey, ReadOnlySpan<byte> newKey, int slot)
    {
        using var input = SecretBuffer.Allocate(existingKey.Length + newKey.Length);
        existingKey.CopyTo(input.WritableSpan);
        newKey.CopyTo(input.WritableSpan[existingKey.Length..]);
        ToolRunner.Run("cryptsetup",
            [
                "luksAddKey", "--batch-mode", "--key-file=-", "--keyfile-size", existingKey.Length.ToString(CultureInfo.InvariantCulture),
                "--new-key-slot", slot.ToString(CultureInfo.InvariantCulture), "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", image,
            ],
            input.Span).EnsureSuccess("cryptsetup luksAddKey");
    }
}
