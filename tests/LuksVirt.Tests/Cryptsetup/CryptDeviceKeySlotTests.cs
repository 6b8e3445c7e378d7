using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Cryptsetup;

public sealed class CryptDeviceKeySlotTests
{
    private const int Eperm = 1;
    private const int Enoent = 2;
    private const int Einval = 22;

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void AddKey_to_a_chosen_and_to_the_next_free_slot_and_each_key_opens_its_own_slot(LuksVersion version)
    {
        using var directory = new TempDirectory("cs");
        using var first = SecretBuffer.GeneratePrintableKey();
        using var chosen = SecretBuffer.GeneratePrintableKey();
        using var next = SecretBuffer.FromRandom(48);
        var (image, _) = TestImages.Format(directory, version, first.Span, slot: 0);

        using var device = CryptDevice.Load(image);
        device.SetPbkdf(PbkdfSettings.MinimalPbkdf2);
        Assert.Equal(5, device.AddKey(first.Span, chosen.Span, 5));
        Assert.Equal(1, device.AddKey(chosen.Span, next.Span));

        Assert.Equal(0, device.TestKey(first.Span));
        Assert.Equal(5, device.TestKey(chosen.Span));
        Assert.Equal(1, device.TestKey(next.Span));
        Assert.Equal(5, device.TestKey(chosen.Span, 5));
        Assert.True(CryptsetupCli.Opens(image, chosen.Span, 5));
        Assert.True(CryptsetupCli.Opens(image, next.Span, 1));
        Assert.False(CryptsetupCli.Opens(image, next.Span, 5));
    }

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void A_wrong_key_throws_WrongKeyException_without_the_key_in_the_message(LuksVersion version)
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        using var wrong = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, version, key.Span);
        using var device = CryptDevice.Load(image);

        var error = Assert.Throws<WrongKeyException>(() => device.TestKey(wrong.Span));
        Assert.Equal(Eperm, error.Errno);
        Assert.Equal("crypt_activate_by_passphrase", error.Function);
        Assert.Contains(image, error.Message, StringComparison.Ordinal);
        Assert.False(TestImages.Contains(error.Message, wrong));
        Assert.False(TestImages.Contains(error.Message, key));

        Assert.Throws<WrongKeyException>(() => device.AddKey(wrong.Span, key.Span));
        Assert.Throws<WrongKeyException>(() => device.GetVolumeKey(wrong.Span));
    }

    [Fact]
    public void A_slot_restriction_is_honoured()
    {
        using var directory = new TempDirectory("cs");
        using var keyA = SecretBuffer.GeneratePrintableKey();
        using var keyB = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks1, keyA.Span, slot: 0);
        using var device = CryptDevice.Load(image);
        device.SetPbkdf(PbkdfSettings.MinimalPbkdf2);
        Assert.Equal(1, device.AddKey(keyA.Span, keyB.Span, 1));

        Assert.Equal(0, device.TestKey(keyA.Span, 0));
        // Right key, but another (active) slot: that slot's key differs.
        var other = Assert.Throws<WrongKeyException>(() => device.TestKey(keyA.Span, 1));
        Assert.Equal(Eperm, other.Errno);
        Assert.Contains("key slot 1", other.Message, StringComparison.Ordinal);
        // Right key, but an empty slot: nothing there to open.
        var empty = Assert.Throws<WrongKeyException>(() => device.TestKey(keyA.Span, 6));
        Assert.Equal(Enoent, empty.Errno);
    }

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void DestroySlot_removes_the_key_for_the_cli_and_the_binding(LuksVersion version)
    {
        using var directory = new TempDirectory("cs");
        using var keep = SecretBuffer.GeneratePrintableKey();
        using var doomed = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, version, keep.Span, slot: 0);
        using var device = CryptDevice.Load(image);
        device.SetPbkdf(PbkdfSettings.MinimalPbkdf2);
        Assert.Equal(2, device.AddKey(keep.Span, doomed.Span, 2));
        Assert.True(CryptsetupCli.Opens(image, doomed.Span, 2));

        device.DestroySlot(2);

        Assert.Equal(KeySlotState.Inactive, device.GetSlotState(2));
        Assert.False(CryptsetupCli.Opens(image, doomed.Span));
        Assert.Throws<WrongKeyException>(() => device.TestKey(doomed.Span));
        using var reloaded = CryptDevice.Load(image);
        Assert.Throws<WrongKeyException>(() => reloaded.TestKey(doomed.Span));
        Assert.Equal(0, reloaded.TestKey(keep.Span));
    }

    [Fact]
    public void DestroySlot_of_an_inactive_slot_is_refused_with_the_library_reason()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks1, key.Span, slot: 0);
        using var device = CryptDevice.Load(image);

        var error = Assert.Throws<CryptsetupException>(() => device.DestroySlot(4));
        Assert.Equal(Einval, error.Errno);
        Assert.Equal("crypt_keyslot_destroy", error.Function);
        // The ERROR line libcryptsetup logged for this very call is appended.
        Assert.Contains("libcryptsetup:", error.Message, StringComparison.Ordinal);
        Assert.Contains("4", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, device.TestKey(key.Span));
    }

    [Theory]
    [InlineData(LuksVersion.Luks1, 8)]
    [InlineData(LuksVersion.Luks2, 32)]
    public void Slot_states_follow_adds_and_destroys(LuksVersion version, int slotCount)
    {
        using var directory = new TempDirectory("cs");
        using var first = SecretBuffer.GeneratePrintableKey();
        using var second = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, version, first.Span, slot: 0);
        using var device = CryptDevice.Load(image);

        var states = device.GetSlotStates();
        Assert.Equal(slotCount, states.Count);
        Assert.Equal(KeySlotState.ActiveLast, states[0]);
        Assert.All(states.Skip(1), state => Assert.Equal(KeySlotState.Inactive, state));

        device.SetPbkdf(PbkdfSettings.MinimalPbkdf2);
        device.AddKey(first.Span, second.Span, 3);
        Assert.Equal(KeySlotState.Active, device.GetSlotState(0));
        Assert.Equal(KeySlotState.Active, device.GetSlotState(3));

        device.DestroySlot(0);
        Assert.Equal(KeySlotState.Inactive, device.GetSlotState(0));
        Assert.Equal(KeySlotState.ActiveLast, device.GetSlotState(3));
        Assert.Equal(KeySlotState.Invalid, device.GetSlotState(slotCount));
    }

    [Fact]
    public void A_key_added_by_the_cli_opens_through_the_binding()
    {
        using var directory = new TempDirectory("cs");
        using var first = SecretBuffer.GeneratePrintableKey();
        using var added = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks1, first.Span, slot: 0);

        CryptsetupCli.AddKey(image, first.Span, added.Span, 6);

        using var device = CryptDevice.Load(image);
        Assert.Equal(6, device.TestKey(added.Span));
        Assert.Equal(6, device.TestKey(added.Span, 6));
    }

    [Fact]
    public void Empty_keys_are_rejected_before_any_library_call()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (image, _) = TestImages.Format(directory, LuksVersion.Luks1, key.Span);
        using var device = CryptDevice.Load(image);

        Assert.Throws<ArgumentException>(() => device.TestKey([]));
        Assert.Throws<ArgumentException>(() => device.AddKey(key.Span, []));
    }

    [Fact]
    public void Separate_devices_work_on_separate_threads_and_errors_keep_their_own_library_line()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var images = Enumerable.Range(0, 4).Select(i =>
        {
            var sub = Directory.CreateDirectory(directory.PathOf($"d{i}")).FullName;
            var path = Path.Combine(sub, "luks1.img");
            using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
            {
                file.SetLength(TestImages.Luks1Bytes);
            }

            using var device = CryptDevice.Open(path);
            device.Format(new LuksFormatOptions(LuksVersion.Luks1, Pbkdf: PbkdfSettings.MinimalPbkdf2), key.Span, i);
            return path;
        }).ToArray();

        Parallel.For(0, images.Length, new ParallelOptions { MaxDegreeOfParallelism = images.Length }, i =>
        {
            using var device = CryptDevice.Load(images[i]);
            for (var round = 0; round < 20; round++)
            {
                Assert.Equal(i, device.TestKey(key.Span));
                var error = Assert.Throws<CryptsetupException>(() => device.DestroySlot(i + 4));
                Assert.Contains($"Keyslot {i + 4} ", error.Message, StringComparison.Ordinal);
            }
        });
    }
}
