using LuksVirt.Core.Containers;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Containers;

/// <summary>
/// Every command that loads a header calls a damaged one damaged, with libcryptsetup's reason and
/// the fix (<c>luksvirt header restore</c>), changes nothing, and the fix works (reliability.md,
/// hostile review 13). Headers made by cryptsetup, then damaged in place.
/// </summary>
public sealed class DamagedHeaderCliTests : IDisposable
{
    private readonly TempDirectory _directory = new("dmg");
    private readonly SecretBuffer _key = SecretBuffer.GeneratePrintableKey();

    public void Dispose()
    {
        _key.Dispose();
        _directory.Dispose();
    }

    [Theory]
    [InlineData(DamagedHeaders.Fault.Luks1KeySlotInPayload)]
    [InlineData(DamagedHeaders.Fault.Luks2BothChecksums)]
    [InlineData(DamagedHeaders.Fault.Luks2OverlappingKeySlotAreas)]
    public void Keys_and_header_commands_call_the_header_damaged_name_the_reason_and_the_fix_and_change_nothing(DamagedHeaders.Fault fault)
    {
        var (image, _) = DamagedHeaders.Create(_directory, fault, _key.Span);
        var keyFile = WriteKeyFile();
        var registry = _directory.PathOf("state/holders.json");
        var keysOut = _directory.PathOf("keys-out");
        var backupFile = _directory.PathOf("header.bak");
        var before = File.ReadAllBytes(image);
        string[] keys = ["--container", image, "--registry", registry];

        var commands = new Dictionary<string, string[]>
        {
            ["keys list"] = ["keys", "list", .. keys],
            ["keys list --json"] = ["keys", "list", .. keys, "--json"],
            ["keys add"] = ["keys", "add", .. keys, "--holder", "alice", "--key-file", keyFile, "--keys-out", keysOut],
            ["keys remove"] = ["keys", "remove", .. keys, "--slot", "0", "--key-file", keyFile],
            ["keys replace"] = ["keys", "replace", .. keys, "--holder", "alice", "--key-file", keyFile, "--keys-out", keysOut],
            ["header backup"] = ["header", "backup", "--container", image, "--file", backupFile, "--key-file", keyFile],
        };

        foreach (var (name, arguments) in commands)
        {
            var result = ContainerCli.Run(arguments);

            Assert.True(result.ExitCode == 1, $"{name}: exit {result.ExitCode}: {result.StandardError}");
            AssertNamesDamageReasonAndFix(result.StandardError, image, fault, name);
            Assert.DoesNotContain("not a LUKS", result.StandardError, StringComparison.Ordinal);
        }

        Assert.Contains("damaged", ContainerCli.Json(ContainerCli.Run(commands["keys list --json"])).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(image));
        Assert.False(File.Exists(backupFile));
        Assert.False(Directory.Exists(keysOut) && Directory.EnumerateFileSystemEntries(keysOut).Any());
    }

    [Theory]
    [InlineData(DamagedHeaders.Fault.Luks1KeySlotInPayload)]
    [InlineData(DamagedHeaders.Fault.Luks2BothChecksums)]
    public void The_named_fix_works_header_restore_of_a_backup_repairs_the_damaged_header_without_force(DamagedHeaders.Fault fault)
    {
        var image = DamagedHeaders.FormatWithCryptsetup(_directory, "c.img", DamagedHeaders.VersionOf(fault), _key.Span);
        var backupFile = _directory.PathOf("header.bak");
        ContainerCli.Run(["header", "backup", "--container", image, "--file", backupFile]).EnsureSuccess("header backup");
        var healthy = TestContainer.ReadHeader(image);
        DamagedHeaders.Apply(image, fault);

        var restore = ContainerCli.Run(["header", "restore", "--container", image, "--file", backupFile, "--yes", "--key-file", WriteKeyFile()]);

        Assert.True(restore.ExitCode == 0, restore.StandardError);
        Assert.Equal(healthy, TestContainer.ReadHeader(image));
        Assert.True(CryptsetupCli.Opens(image, _key.Span, 0));
    }

    [Fact]
    public void Restore_of_another_containers_backup_onto_a_damaged_header_is_refused_even_with_force()
    {
        var other = DamagedHeaders.FormatWithCryptsetup(_directory, "other.img", LuksVirt.Interop.Cryptsetup.LuksVersion.Luks1, _key.Span);
        var backupFile = _directory.PathOf("other.bak");
        ContainerCli.Run(["header", "backup", "--container", other, "--file", backupFile]).EnsureSuccess("header backup");
        var (image, uuid) = DamagedHeaders.Create(_directory, DamagedHeaders.Fault.Luks1KeySlotInPayload, _key.Span);
        var before = File.ReadAllBytes(image);

        var restore = ContainerCli.Run(["header", "restore", "--container", image, "--file", backupFile, "--yes", "--force"]);

        Assert.Equal(2, restore.ExitCode);
        Assert.Contains($"{image} records {uuid}", restore.StandardError, StringComparison.Ordinal);
        Assert.Contains("Use a backup taken from this container", restore.StandardError, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(image));
    }

    [Fact]
    public void A_damaged_backup_file_is_refused_as_a_damaged_backup_not_sent_to_header_restore()
    {
        var image = DamagedHeaders.FormatWithCryptsetup(_directory, "c.img", LuksVirt.Interop.Cryptsetup.LuksVersion.Luks1, _key.Span);
        var (backupFile, _) = DamagedHeaders.Create(_directory, DamagedHeaders.Fault.Luks1KeySlotInPayload, _key.Span, "backup.img");
        var before = File.ReadAllBytes(image);

        var restore = ContainerCli.Run(["header", "restore", "--container", image, "--file", backupFile, "--yes"]);

        Assert.Equal(2, restore.ExitCode);
        Assert.Contains($"{backupFile} is a damaged LUKS header backup", restore.StandardError, StringComparison.Ordinal);
        Assert.Contains("LUKS keyslot 0 is invalid", restore.StandardError, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(image));
    }

    [Theory]
    [InlineData(DamagedHeaders.Fault.Luks1KeySlotInPayload)]
    [InlineData(DamagedHeaders.Fault.Luks2BothChecksums)]
    public void Create_refuses_to_format_over_a_damaged_header_and_names_the_restore(DamagedHeaders.Fault fault)
    {
        var (image, _) = DamagedHeaders.Create(_directory, fault, _key.Span);

        var content = ContainerTarget.Resolve(image).DescribeExistingContent();

        Assert.NotNull(content);
        Assert.Contains("damaged header", content, StringComparison.Ordinal);
        AssertNamesDamageReasonAndFix(content, image, fault, "create");
    }

    internal static void AssertNamesDamageReasonAndFix(string message, string image, DamagedHeaders.Fault fault, string context)
    {
        Assert.True(message.Contains("damaged", StringComparison.Ordinal), $"{context}: {message}");
        Assert.True(message.Contains(DamagedHeaders.ReasonOf(fault), StringComparison.Ordinal), $"{context}: no libcryptsetup reason: {message}");
        Assert.True(message.Contains($"luksvirt header restore --container {image} --file", StringComparison.Ordinal), $"{context}: no fix named: {message}");
    }

    private string WriteKeyFile()
    {
        var path = _directory.PathOf("admin.key");
        if (!File.Exists(path))
        {
            File.WriteAllBytes(path, _key.Span.ToArray());
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return path;
    }
}
