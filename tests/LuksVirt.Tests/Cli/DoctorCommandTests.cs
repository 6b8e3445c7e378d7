using System.Text.Json;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Cli;

[Collection(LibvirtdFixture.CollectionName)]
public sealed class DoctorCommandTests(LibvirtdFixture libvirtd)
{
    private static Dictionary<string, JsonElement> Checks(ToolResult result) =>
        JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("checks").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.Clone());

    [Fact]
    public void Doctor_reports_libvirt_qemu_and_what_this_kernel_lacks()
    {
        var result = LuksVirtCli.Run("doctor", "--json");

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        var checks = Checks(result);
        Assert.Equal("Ok", checks["libvirt"].GetProperty("status").GetString());
        Assert.StartsWith("QEMU ", checks["hypervisor"].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("Ok", checks["qemu luks driver"].GetProperty("status").GetString());
        Assert.Equal(CryptDevice.IsDeviceMapperAvailable ? "Ok" : "Warning", checks["device-mapper"].GetProperty("status").GetString());
        Assert.Equal(KernelCryptoApi.IsAvailable ? "Ok" : "Warning", checks["kernel crypto API"].GetProperty("status").GetString());
        if (!CryptDevice.IsDeviceMapperAvailable)
        {
            Assert.Contains("device-mapper not available", checks["device-mapper"].GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Doctor_flags_an_encrypted_guest_that_libvirt_would_autostart()
    {
        using var images = new TempDirectory("doctor");
        using var guests = new EncryptedGuests(libvirtd.Uri, images);
        using var key = new TestKey("alice", LuksVirt.Interop.Secrets.SecretBuffer.GeneratePrintableKey());
        var guest = guests.Define(EncryptedGuests.UniqueName("auto"), guests.CreateDisk("auto-d0", "vda", new Dictionary<int, TestKey> { [0] = key }));
        using (var connection = libvirtd.Open())
        using (var domain = connection.LookupDomainByName(guest.Name))
        {
            domain.Autostart = true;
        }

        var check = Checks(LuksVirtCli.Run("doctor", "--json"))["autostart"];

        Assert.Equal("Warning", check.GetProperty("status").GetString());
        Assert.Contains(guest.Name, check.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("virsh autostart --disable", check.GetProperty("fix").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Version_prints_the_program_version()
    {
        var result = LuksVirtCli.Run("--version");

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("0.", result.StandardOutput, StringComparison.Ordinal);
    }
}
