using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Cryptsetup;

/// <summary>
/// A header with the LUKS signature that libcryptsetup refuses is damaged, not "not LUKS": the
/// exception says so, carries libcryptsetup's own reason (for LUKS2 only logged at debug level)
/// and names the fix (reliability.md, hostile review 13).
/// </summary>
public sealed class CryptDeviceDamagedHeaderTests
{
    [Theory]
    [InlineData(DamagedHeaders.Fault.Luks1KeySlotInPayload)]
    [InlineData(DamagedHeaders.Fault.Luks2BothChecksums)]
    [InlineData(DamagedHeaders.Fault.Luks2OverlappingKeySlotAreas)]
    public void A_damaged_header_is_reported_as_damaged_with_libcryptsetups_reason_and_the_fix(DamagedHeaders.Fault fault)
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (image, uuid) = DamagedHeaders.Create(directory, fault, key.Span);
        Assert.False(CryptsetupCli.IsLuks(image, DamagedHeaders.VersionOf(fault)), "cryptsetup itself must refuse the damaged header");

        var error = Assert.Throws<DamagedHeaderException>(() => CryptDevice.Load(image));

        Assert.Equal("crypt_load", error.Function);
        Assert.Contains(DamagedHeaders.ReasonOf(fault), error.Reason, StringComparison.Ordinal);
        Assert.Contains($"{image}: the LUKS header is damaged", error.Message, StringComparison.Ordinal);
        Assert.Contains(DamagedHeaders.ReasonOf(fault), error.Message, StringComparison.Ordinal);
        Assert.Contains($"luksvirt header restore --container {image} --file BACKUP", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not a LUKS", error.Message, StringComparison.Ordinal);
        Assert.Equal(uuid, error.RecordedUuid);
        Assert.Throws<DamagedHeaderException>(() => CryptDevice.IsLuks(image));
    }

    [Fact]
    public void The_diagnosis_leaves_debug_logging_off_and_other_calls_unaffected()
    {
        using var directory = new TempDirectory("cs");
        using var key = SecretBuffer.GeneratePrintableKey();
        var (damaged, _) = DamagedHeaders.Create(directory, DamagedHeaders.Fault.Luks2BothChecksums, key.Span);
        var healthy = DamagedHeaders.FormatWithCryptsetup(directory, "healthy.img", LuksVersion.Luks2, key.Span);

        Assert.Throws<DamagedHeaderException>(() => CryptDevice.Load(damaged));

        // After the diagnosis a failing call carries only its own ERROR lines, no debug chatter.
        using var device = CryptDevice.Load(healthy);
        var wrongSlot = Assert.ThrowsAny<CryptsetupException>(() => device.TestKey(key.Span, slot: 5));
        Assert.DoesNotContain("Trying to", wrongSlot.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("checksum", wrongSlot.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_file_without_the_LUKS_signature_stays_not_LUKS()
    {
        using var directory = new TempDirectory("cs");
        var image = TestImages.CreateEmpty(directory, "random.img", TestImages.Luks1Bytes);
        File.WriteAllBytes(image, System.Security.Cryptography.RandomNumberGenerator.GetBytes(1 << 20));

        var error = Assert.Throws<NotLuksException>(() => CryptDevice.Load(image));

        Assert.Contains("is not a LUKS device", error.Message, StringComparison.Ordinal);
        Assert.False(CryptDevice.IsLuks(image));
    }
}
