using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Cryptsetup;

public sealed class CryptDeviceVolumeKeyTests
{
    [Theory]
    [InlineData(LuksVersion.Luks1, 64)]
    [InlineData(LuksVersion.Luks1, 32)]
    [InlineData(LuksVersion.Luks2, 64)]
    public void The_volume_key_is_the_same_from_two_slots_and_as_long_as_formatted(LuksVersion version, int volumeKeyBytes)
    {
        using var directory = new TempDirectory("cs");
        using var first = SecretBuffer.GeneratePrintableKey();
        using var second = SecretBuffer.FromRandom(64);
        var (image, _) = TestImages.Format(directory, version, first.Span, slot: 0, volumeKeyBytes: volumeKeyBytes);
        using var device = CryptDevice.Load(image);
        device.SetPbkdf(PbkdfSettings.MinimalPbkdf2);
        Assert.Equal(4, device.AddKey(first.Span, second.Span, 4));

        using var fromFirst = device.GetVolumeKey(first.Span, 0);
        using var fromSecond = device.GetVolumeKey(second.Span);

        Assert.Equal(volumeKeyBytes, fromFirst.Length);
        Assert.True(fromFirst.ContentEquals(fromSecond));
        Assert.False(fromFirst.Span.IndexOfAnyExcept((byte)0) < 0, "an all-zero volume key means nothing was written");
        Assert.Throws<WrongKeyException>(() => device.GetVolumeKey(second.Span, 0));
    }

    [Fact]
    public void Two_formats_get_different_volume_keys()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (luks1, _) = TestImages.Format(directory, LuksVersion.Luks1, key.Span);
        var (luks2, _) = TestImages.Format(directory, LuksVersion.Luks2, key.Span);
        using var device1 = CryptDevice.Load(luks1);
        using var device2 = CryptDevice.Load(luks2);
        using var volumeKey1 = device1.GetVolumeKey(key.Span);
        using var volumeKey2 = device2.GetVolumeKey(key.Span);

        Assert.False(volumeKey1.ContentEquals(volumeKey2));
    }
}
