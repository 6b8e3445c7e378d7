using System.Globalization;
using System.Text;
using System.Text.Json;
using LuksVirt.Core.Containers;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Migration;
using LuksVirt.Tests.Tang;

namespace LuksVirt.Tests.Containers;

/// <summary>
/// Room for clevis's LUKS1 bindings (LUKSMeta, between the key material and the payload): a LUKS1
/// container made by <c>luksvirt create</c> takes Debian's own <c>luksmeta init</c> and
/// <c>clevis luks bind ... tang</c> against a real Tang server, whatever its key size; and
/// <c>luksvirt doctor</c> names a configured container that has no room (one made by plain
/// <c>cryptsetup luksFormat --align-payload</c> with no gap), from the configuration file and
/// from a libvirt domain alike, and no container that has room.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class LuksMetaRoomTests(LibvirtdFixture libvirtd) : IDisposable
{
    private const string NoRoomMessage = "no room for clevis/Tang bindings (LUKSMeta)";

    private readonly GuestLab _lab = new(libvirtd, "luksmeta-room");

    public void Dispose() => _lab.Dispose();

    [Theory]
    [InlineData("aes-xts-plain64", 64)]
    [InlineData("aes-cbc-essiv:sha256", 32)]
    public void Key_material_ends_where_libcryptsetup_puts_it_and_the_payload_leaves_luksmeta_room(string cipher, int keyBytes)
    {
        using var directory = new TempDirectory("luksmeta-layout");
        var image = TestImages.CreateEmpty(directory, "tight.img", 8 << 20);
        // --align-payload=8: the payload right after the key material (rounded to 4 KiB).
        FormatWithCryptsetup(image, cipher, keyBytes, "--align-payload=8");
        using (var device = CryptDevice.Load(image))
        {
            Assert.Equal(Luks1LuksMetaRoom.KeyMaterialEndBytes(keyBytes), checked((long)device.DataOffsetSectors * 512));
        }

        var payload = checked((long)Luks1LuksMetaRoom.PayloadAlignmentSectors(keyBytes) * 512);
        Assert.Equal(0, payload % (1 << 20));
        Assert.True(payload - Luks1LuksMetaRoom.KeyMaterialEndBytes(keyBytes) >= Luks1LuksMetaRoom.RoomBytes);
    }

    [Theory]
    [InlineData(8UL, 4040UL)] // right after the 512-bit key material: no room
    [InlineData(16384UL, 16384UL)]
    public void The_luks1_payload_alignment_reaches_libcryptsetup(ulong alignmentSectors, ulong payloadSectors)
    {
        using var directory = new TempDirectory("luksmeta-alignment");
        var image = TestImages.CreateEmpty(directory, "aligned.img", 16 << 20);
        using var device = CryptDevice.Open(image);

        device.Format(new LuksFormatOptions(LuksVersion.Luks1, Pbkdf: PbkdfSettings.MinimalPbkdf2) { Luks1PayloadAlignmentSectors = alignmentSectors }, "luksvirt-test-only-alignment"u8);

        Assert.Equal(payloadSectors, device.DataOffsetSectors);
    }

    [Theory]
    [InlineData("aes-xts-plain64", 4096L)]
    [InlineData("aes-cbc-essiv:sha256", 4096L)]
    public void A_luks1_container_made_by_create_takes_luksmeta_init_and_clevis_luks_bind_tang(string cipher, long payloadSectors)
    {
        var name = _lab.NewGuestName("luksmeta");
        var container = _lab.Directory.PathOf("bindable.luks");
        var result = _lab.Luksvirt("create", "--vm", name, "--disk", container, "--size", "16M", "--backend", "native", "--cipher", cipher,
            "--keys-out", _lab.KeysOut, "--define-domain", "--domain-type", "qemu");
        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        using (var device = CryptDevice.Load(container))
        {
            Assert.Equal(LuksVersion.Luks1, device.Version);
            Assert.Equal((ulong)payloadSectors, device.DataOffsetSectors); // where libcryptsetup's default put it before
        }

        ToolRunner.Run("luksmeta", "init", "-d", container, "-f").EnsureSuccess("luksmeta init");
        using var tang = new TangServer();
        using var recovery = _lab.ReadKey("luks-recovery.7.key");
        var configuration = $$"""{"url":"{{tang.Url}}","thp":"{{tang.SigningKeyThumbprint}}"}""";
        ToolRunner.Run("clevis", ["luks", "bind", "-y", "-d", container, "-k", "-", "tang", configuration], recovery.Span).EnsureSuccess("clevis luks bind tang");

        var list = ToolRunner.Run("clevis", "luks", "list", "-d", container).EnsureSuccess("clevis luks list").StandardOutput;
        Assert.Contains(tang.Url, list, StringComparison.Ordinal);
        var slot = int.Parse(list.Split(':')[0], CultureInfo.InvariantCulture);
        var pass = ToolRunner.Run("clevis", "luks", "pass", "-d", container, "-s", slot.ToString(CultureInfo.InvariantCulture)).EnsureSuccess("clevis luks pass");
        using var passphrase = SecretBuffer.CopyOf(Encoding.UTF8.GetBytes(pass.StandardOutput));
        Assert.True(CryptsetupCli.Opens(container, passphrase.Span, slot), "the passphrase clevis recovers from Tang does not open its slot");
    }

    [Fact]
    public void Doctor_names_every_configured_luks1_container_without_room_and_none_with_room()
    {
        var images = _lab.Directory.PathOf("images");
        Directory.CreateDirectory(images);
        var noGapConfigured = _lab.Directory.PathOf("nogap-config.luks");
        var noGapInDomain = _lab.Directory.PathOf("nogap-domain.luks");
        var roomy = _lab.Directory.PathOf("roomy.luks");
        foreach (var image in new[] { noGapConfigured, noGapInDomain })
        {
            TestImages.CreateEmpty(_lab.Directory, Path.GetFileName(image), 8 << 20);
            FormatWithCryptsetup(image, "aes-xts-plain64", 64, "--align-payload=8");
        }

        TestImages.CreateEmpty(_lab.Directory, Path.GetFileName(roomy), 8 << 20);
        FormatWithCryptsetup(roomy, "aes-xts-plain64", 64);
        var configuredGuest = _lab.NewGuestName("nogap");
        var roomyGuest = _lab.NewGuestName("roomy");
        var config = _lab.Directory.PathOf("luksvirt.xml");
        File.WriteAllText(config, $"""
            <vms allowed-image-dirs='{images}'>
              <vm name='{configuredGuest}'><luks><disk source='{noGapConfigured}' target='{images}/nogap.decrypted'/></luks></vm>
              <vm name='{roomyGuest}'><luks><disk source='{roomy}' target='{images}/roomy.decrypted'/></luks></vm>
            </vms>
            """);
        using var guests = new EncryptedGuests(libvirtd.Uri, _lab.Directory);
        var domainGuest = guests.Define(EncryptedGuests.UniqueName("nogap-domain"), new TestDisk(noGapInDomain, Guid.NewGuid(), "vda", new Dictionary<int, TestKey>()));

        var result = _lab.Luksvirt("doctor", "--json", "--config", config);

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        var check = JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("checks").EnumerateArray()
            .Single(c => c.GetProperty("name").GetString() == "luksmeta room");
        Assert.Equal("Warning", check.GetProperty("status").GetString());
        var detail = check.GetProperty("detail").GetString()!;
        Assert.StartsWith(NoRoomMessage, detail, StringComparison.Ordinal);
        Assert.Contains($"{noGapConfigured} (guest {configuredGuest})", detail, StringComparison.Ordinal);
        Assert.Contains($"{noGapInDomain} (guest {domainGuest.Name})", detail, StringComparison.Ordinal);
        Assert.DoesNotContain(roomy, detail, StringComparison.Ordinal);
        Assert.Equal("recreate it with luksvirt create, or use LUKS2", check.GetProperty("fix").GetString());
    }

    /// <summary>A LUKS1 container formatted by the cryptsetup CLI (key on standard input).</summary>
    private static void FormatWithCryptsetup(string image, string cipher, int keyBytes, params string[] extra) =>
        ToolRunner.Run("cryptsetup",
            ["luksFormat", "--type", "luks1", "-q", "--batch-mode", "--cipher", cipher, "--key-size", (keyBytes * 8).ToString(CultureInfo.InvariantCulture),
             "--pbkdf-force-iterations", "1000", "--key-file=-", .. extra, image],
            "luksvirt-test-only-luksmeta-room"u8).EnsureSuccess("cryptsetup luksFormat --type luks1");
}
