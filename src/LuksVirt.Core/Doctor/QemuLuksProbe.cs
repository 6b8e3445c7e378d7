using System.Diagnostics;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Doctor;

/// <summary>
/// Asks QEMU's own LUKS driver (through <c>qemu-img info</c>, which reads the header without a
/// key) whether it opens LUKS1 and LUKS2 containers made by libcryptsetup. Only the exit code is
/// used; the probe containers hold nothing and their random keys are discarded.
/// </summary>
internal static class QemuLuksProbe
{
    public sealed record Result(bool Luks1Opens, bool Luks2Opens, string? Error);

    public static Result Run()
    {
        var directory = Directory.CreateTempSubdirectory("luksvirt-probe-");
        try
        {
            var (luks1, error1) = Opens(MakeContainer(directory.FullName, LuksVersion.Luks1));
            var (luks2, _) = Opens(MakeContainer(directory.FullName, LuksVersion.Luks2));
            return new Result(luks1, luks2, error1);
        }
        catch (Exception e) when (e is IOException or CryptsetupException or System.ComponentModel.Win32Exception)
        {
            return new Result(false, false, e.Message);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static string MakeContainer(string directory, LuksVersion version)
    {
        var path = Path.Combine(directory, $"probe-{version}.img".ToLowerInvariant());
        using (var file = File.Create(path))
        {
            // LUKS2 keeps 16 MiB of metadata; the file is sparse, so this costs nothing.
            file.SetLength(version == LuksVersion.Luks2 ? 20 << 20 : 4 << 20);
        }

        using var key = SecretBuffer.FromRandom(32);
        using var device = CryptDevice.Open(path);
        device.Format(new LuksFormatOptions(version, VolumeKeyBytes: 32, Pbkdf: PbkdfSettings.MinimalPbkdf2), key.Span);
        return path;
    }

    private static (bool Opens, string? Error) Opens(string image)
    {
        var start = new ProcessStartInfo("qemu-img")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "info", "--output=json", "--image-opts", $"driver=luks,file.filename={image}" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new IOException("cannot start qemu-img");
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode == 0, stderr.Result.Trim());
    }
}
