using System.Globalization;
using System.Text;
using LuksVirt.Core.Tang;
using LuksVirt.Core.Tang.Luks1;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Tang;

/// <summary>
/// clevis's LUKS1 bindings (the JWE in a LUKSMeta slot) on real LUKS1 image files, against
/// Debian's clevis, luksmeta and cryptsetup: what `clevis luks bind` writes (tang and sss)
/// LuksVirt reads, and the passphrase it recovers opens the slot in real cryptsetup; what LuksVirt
/// writes `luksmeta show`, `clevis luks list` and `clevis luks pass` read; the room check agrees
/// with `luksmeta init`.
/// </summary>
public sealed class LuksMetaTests(TwoTangServers servers) : IClassFixture<TwoTangServers>
{
    private const string ClevisUuidText = "cb6e8904-81ff-40da-a84a-07ab9ab5715e";

    /// <summary>A test-only passphrase for the images' first slot.</summary>
    private static readonly byte[] FirstKey = Encoding.ASCII.GetBytes("luksvirt-test-only-luks1-first-slot-3b90");

    private TangServer A => servers.First;

    private TangServer B => servers.Second;

    [Fact]
    public async Task A_slot_bound_by_clevis_luks_bind_tang_opens_in_cryptsetup_with_the_key_LuksVirt_recovers()
    {
        using var directory = new TempDirectory("luksmeta");
        var (image, firstSlot) = TestImages.Format(directory, LuksVersion.Luks1, FirstKey);
        ClevisLuksBind(image, "tang", Tang(A));

        ClevisLuks1Binding binding;
        using (var file = File.OpenHandle(image))
        {
            binding = Assert.Single(ClevisLuks1Binding.ReadAll(file));
        }

        using var coordinator = new TangRecoveryCoordinator();
        using var result = await coordinator.RecoverAsync(binding.Jwe, CancellationToken.None);
        var loadedByLuksmeta = ToolRunner.Run("luksmeta", "load", "-d", image, "-s", Slot(binding.KeySlot)).EnsureSuccess("luksmeta load").StandardOutput;

        Assert.NotEqual(firstSlot, binding.KeySlot);
        Assert.Equal(loadedByLuksmeta, binding.Jwe.ToCompact());
        Assert.Equal([A.Url], result.AnsweringServers);
        AssertOpensInCryptsetup(image, binding.KeySlot, result.Key);
    }

    [Fact]
    public async Task A_slot_bound_by_clevis_luks_bind_sss_opens_in_cryptsetup_with_the_key_LuksVirt_recovers()
    {
        using var directory = new TempDirectory("luksmeta");
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks1, FirstKey);
        ClevisLuksBind(image, "sss", $$$"""{"t":2,"pins":{"tang":[{{{Tang(A)}}},{{{Tang(B)}}}]}}""");

        ClevisLuks1Binding binding;
        using (var file = File.OpenHandle(image))
        {
            binding = Assert.Single(ClevisLuks1Binding.ReadAll(file));
        }

        using var coordinator = new TangRecoveryCoordinator();
        using var result = await coordinator.RecoverAsync(binding.Jwe, CancellationToken.None);

        Assert.Equal([A.Url, B.Url], result.AnsweringServers);
        AssertOpensInCryptsetup(image, binding.KeySlot, result.Key);
    }

    [Fact]
    public async Task A_binding_LuksVirt_writes_is_shown_by_luksmeta_and_listed_and_opened_by_clevis_luks()
    {
        using var directory = new TempDirectory("luksmeta");
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks1, FirstKey);
        var (slot, passphrase, jwe) = await AddTangBoundPassphraseAsync(image, A);
        using var passphraseScope = passphrase;

        using (var file = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite))
        {
            Assert.Equal(LuksMetaRoom.RoomNotInitialized, LuksMeta.DescribeRoom(file));
            ClevisLuks1Binding.Write(file, slot, jwe);
            Assert.Equal(LuksMetaRoom.Initialized, LuksMeta.DescribeRoom(file));
        }

        var shown = ToolRunner.Run("luksmeta", "show", "-d", image).EnsureSuccess("luksmeta show").StandardOutput;
        var listed = ToolRunner.Run("clevis", "luks", "list", "-d", image).EnsureSuccess("clevis luks list").StandardOutput;
        var recovered = ToolRunner.Run("clevis", "luks", "pass", "-d", image, "-s", Slot(slot)).EnsureSuccess("clevis luks pass").StandardOutput;

        Assert.Matches($"(?m)^{slot} +active +{ClevisUuidText}$", shown);
        Assert.Contains($"{slot}: tang '{{\"url\":\"{A.Url}\"}}'", listed, StringComparison.Ordinal);
        Assert.Equal(Encoding.ASCII.GetString(passphrase.Span), recovered);
    }

    [Fact]
    public async Task A_binding_LuksVirt_removes_is_gone_for_luksmeta_and_a_second_binding_lands_beside_clevis_own()
    {
        using var directory = new TempDirectory("luksmeta");
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks1, FirstKey);
        ClevisLuksBind(image, "tang", Tang(A));
        var (ours, passphrase, jwe) = await AddTangBoundPassphraseAsync(image, B);
        using var passphraseScope = passphrase;

        int clevisSlot;
        using (var file = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite))
        {
            clevisSlot = Assert.Single(ClevisLuks1Binding.ReadAll(file)).KeySlot;
            ClevisLuks1Binding.Write(file, ours, jwe);
            Assert.Equal(2, ClevisLuks1Binding.ReadAll(file).Count);
        }

        var recoveredBeside = ToolRunner.Run("clevis", "luks", "pass", "-d", image, "-s", Slot(ours)).EnsureSuccess("clevis luks pass").StandardOutput;
        using (var file = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite))
        {
            ClevisLuks1Binding.Remove(file, clevisSlot);
        }

        var shown = ToolRunner.Run("luksmeta", "show", "-d", image).EnsureSuccess("luksmeta show").StandardOutput;
        Assert.Equal(Encoding.ASCII.GetString(passphrase.Span), recoveredBeside);
        Assert.Matches($"(?m)^{clevisSlot} +active +empty$", shown);
        Assert.Matches($"(?m)^{ours} +active +{ClevisUuidText}$", shown);
    }

    [Fact]
    public void The_room_check_agrees_with_luksmeta_init()
    {
        using var directory = new TempDirectory("luksmeta");
        var (roomy, _) = TestImages.Format(directory, LuksVersion.Luks1, FirstKey);
        var cramped = TestImages.CreateEmpty(directory, "cramped.img", TestImages.Luks1Bytes);
        // The payload right after the key material (4 KiB alignment): no gap at all.
        ToolRunner.Run("cryptsetup", ["luksFormat", "--type", "luks1", "--align-payload", "8", "--pbkdf-force-iterations", "1000", "--batch-mode", "--key-file=-", cramped], FirstKey).EnsureSuccess("cryptsetup luksFormat");
        var luks2Directory = new TempDirectory("luksmeta2");
        using var luks2Scope = luks2Directory;
        var (luks2, _) = TestImages.Format(luks2Directory, LuksVersion.Luks2, FirstKey, pbkdf: TestImages.TinyArgon2id);

        Assert.Equal(LuksMetaRoom.NoRoom, RoomOf(cramped));
        Assert.NotEqual(0, ToolRunner.Run("luksmeta", "init", "-f", "-d", cramped).ExitCode);
        Assert.Equal(LuksMetaRoom.RoomNotInitialized, RoomOf(roomy));
        ToolRunner.Run("luksmeta", "init", "-f", "-d", roomy).EnsureSuccess("luksmeta init");
        Assert.Equal(LuksMetaRoom.Initialized, RoomOf(roomy));
        Assert.Equal(LuksMetaRoom.NotLuks1, RoomOf(luks2));
    }

    [Fact]
    public void Crc32c_is_Castagnolis_as_luksmeta_computes_it()
    {
        Assert.Equal(0xE3069283u, LuksMeta.Crc32C("123456789"u8));
    }

    /// <summary>A new random passphrase in a new key slot, and its tang JWE for <paramref name="server"/>.</summary>
    private static async Task<(int Slot, SecretBuffer Passphrase, ClevisJwe Jwe)> AddTangBoundPassphraseAsync(string image, TangServer server)
    {
        using var client = new TangClient();
        var url = TangServerUrl.Parse(server.Url);
        var advertisement = await client.FetchAdvertisementAsync(url, server.SigningKeyThumbprint, CancellationToken.None);
        var passphrase = SecretBuffer.GeneratePrintableKey();
        using var device = CryptDevice.Load(image);
        device.SetPbkdf(PbkdfSettings.MinimalPbkdf2);
        var slot = device.AddKey(FirstKey, passphrase.Span);
        return (slot, passphrase, ClevisTangEncrypt.Encrypt(passphrase, url, advertisement));
    }

    private static LuksMetaRoom RoomOf(string image)
    {
        using var file = File.OpenHandle(image);
        return LuksMeta.DescribeRoom(file);
    }

    private static void AssertOpensInCryptsetup(string image, int slot, SecretBuffer key)
    {
        var opened = ToolRunner.Run("cryptsetup", ["open", "--test-passphrase", "--key-file=-", "--key-slot", Slot(slot), image], key.Span);
        Assert.True(opened.ExitCode == 0, $"cryptsetup open --test-passphrase refused the recovered key: {opened.StandardError}");
    }

    private static void ClevisLuksBind(string image, string pin, string configuration) =>
        ToolRunner.Run("clevis", ["luks", "bind", "-y", "-d", image, "-k", "-", pin, configuration], FirstKey).EnsureSuccess($"clevis luks bind {pin}");

    private static string Tang(TangServer server) => $$"""{"url":"{{server.Url}}","thp":"{{server.SigningKeyThumbprint}}"}""";

    private static string Slot(int slot) => slot.ToString(CultureInfo.InvariantCulture);
}
