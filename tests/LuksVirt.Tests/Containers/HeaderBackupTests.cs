using LuksVirt.Core.KeyManagement;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Containers;

/// <summary><c>luksvirt header backup|restore</c> run as a separate process.</summary>
public sealed class HeaderBackupTests
{
    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void Backup_then_restore_brings_back_the_exact_header_and_a_removed_key(LuksVersion version)
    {
        using var container = TestContainer.Create(version);
        using (var editor = container.OpenEditor())
        {
            editor.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));
        }

        using var aliceKey = TestContainer.ReadKeyFile(container.KeyFileOf("alice", 1));
        var backupFile = container.Directory.PathOf("header.bak");
        var atBackup = container.ReadHeader();

        var backup = ContainerCli.Run(["header", "backup", "--container", container.Image, "--file", backupFile, "--key-file", "-", "--json"], container.AdminKey.Span);

        Assert.True(backup.ExitCode == 0, backup.StandardError);
        var report = ContainerCli.Json(backup);
        Assert.True(report.GetProperty("keyChecked").GetBoolean());
        Assert.Equal(0, report.GetProperty("keyCheckedSlot").GetInt32());
        Assert.Equal(CryptsetupCli.Uuid(container.Image), report.GetProperty("uuid").GetString());
        Assert.Equal(UnixFileMode.UserRead, File.GetUnixFileMode(backupFile));
        Assert.True(CryptsetupCli.IsLuks(backupFile, version));
        Assert.True(CryptsetupCli.Opens(backupFile, aliceKey.Span, 1));
        // Nothing else left beside it (the staging directory is gone).
        Assert.DoesNotContain(Directory.GetFileSystemEntries(container.Directory.Path), e => Path.GetFileName(e).StartsWith(".luksvirt", StringComparison.Ordinal));

        using (var editor = container.OpenEditor())
        {
            editor.Remove(container.AdminKey, holder: "alice");
        }

        Assert.False(CryptsetupCli.Opens(container.Image, aliceKey.Span));

        var restore = ContainerCli.Run(["header", "restore", "--container", container.Image, "--file", backupFile, "--yes", "--key-file", container.AdminKeyFile, "--json"]);

        Assert.True(restore.ExitCode == 0, restore.StandardError);
        Assert.Equal(0, ContainerCli.Json(restore).GetProperty("keyCheckedSlot").GetInt32());
        Assert.Equal(atBackup, container.ReadHeader());
        Assert.True(CryptsetupCli.Opens(container.Image, aliceKey.Span, 1));
    }

    [Fact]
    public void Backup_without_a_key_checks_the_uuid_and_says_the_key_check_was_skipped()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        var backupFile = container.Directory.PathOf("header.bak");

        var json = ContainerCli.Run(["header", "backup", "--container", container.Image, "--file", backupFile, "--json"]);
        var human = ContainerCli.Run(["header", "backup", "--container", container.Image, "--file", backupFile + "2"]);

        Assert.True(json.ExitCode == 0, json.StandardError);
        Assert.False(ContainerCli.Json(json).GetProperty("keyChecked").GetBoolean());
        Assert.Equal(0, human.ExitCode);
        Assert.Contains("Key check skipped", human.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(backupFile), File.ReadAllBytes(backupFile + "2"));
    }

    [Fact]
    public void Backup_onto_an_existing_file_is_refused_and_the_file_left_alone()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        var existing = container.Directory.PathOf("header.bak");
        File.WriteAllBytes(existing, [1, 2, 3]);

        var result = ContainerCli.Run(["header", "backup", "--container", container.Image, "--file", existing]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("already exists", result.StandardError, StringComparison.Ordinal);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(existing));
    }

    [Fact]
    public void Backup_with_a_wrong_key_fails_before_writing_anything()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        using var wrong = SecretBuffer.GeneratePrintableKey();
        var backupFile = container.Directory.PathOf("header.bak");

        var result = ContainerCli.Run(["header", "backup", "--container", container.Image, "--file", backupFile, "--key-file", "-"], wrong.Span);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no key slot opens", result.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(backupFile));
    }

    [Fact]
    public void Backup_failing_after_the_write_leaves_no_file()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        var backupFile = container.Directory.PathOf("header.bak");
        var before = Directory.GetFileSystemEntries(container.Directory.Path).Order().ToList();

        var result = ContainerCli.RunWithFaults(["header", "backup", "--container", container.Image, "--file", backupFile],
            new Dictionary<string, string> { [FaultInjectionProgram.FailAfterVariable] = "write-backup" });

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("nothing was kept", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(before, Directory.GetFileSystemEntries(container.Directory.Path).Order());
    }

    [Fact]
    public void Backup_onto_a_full_file_system_removes_the_partial_file()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        var mountPoint = container.Directory.PathOf("full");
        Directory.CreateDirectory(mountPoint);
        // 512 KiB of tmpfs cannot hold a LUKS1 header backup (about 2 MiB).
        ToolRunner.Run("mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "luksvirt-test", mountPoint).EnsureSuccess("mount tmpfs");
        try
        {
            var result = ContainerCli.Run(["header", "backup", "--container", container.Image, "--file", Path.Combine(mountPoint, "header.bak")]);

            Assert.Equal(1, result.ExitCode);
            Assert.Contains("nothing was kept", result.StandardError, StringComparison.Ordinal);
            Assert.Empty(Directory.GetFileSystemEntries(mountPoint));
        }
        finally
        {
            ToolRunner.Run("umount", mountPoint).EnsureSuccess("umount tmpfs");
        }
    }

    [Fact]
    public void Restore_of_another_containers_backup_is_refused()
    {
        using var first = TestContainer.Create(LuksVersion.Luks2);
        using var second = TestContainer.Create(LuksVersion.Luks2);
        var backupFile = first.Directory.PathOf("header.bak");
        ContainerCli.Run(["header", "backup", "--container", first.Image, "--file", backupFile]).EnsureSuccess("header backup");
        var header = second.ReadHeader();

        var result = ContainerCli.Run(["header", "restore", "--container", second.Image, "--file", backupFile, "--yes", "--force"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(CryptsetupCli.Uuid(first.Image), result.StandardError, StringComparison.Ordinal);
        Assert.Contains("Use a backup taken from this container", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(header, second.ReadHeader());
    }

    [Fact]
    public void Restore_asks_for_yes_when_standard_input_is_not_a_terminal()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        var backupFile = container.Directory.PathOf("header.bak");
        ContainerCli.Run(["header", "backup", "--container", container.Image, "--file", backupFile]).EnsureSuccess("header backup");
        using (var editor = container.OpenEditor())
        {
            editor.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));
        }

        var header = container.ReadHeader();

        var result = ContainerCli.Run(["header", "restore", "--container", container.Image, "--file", backupFile], "yes\n"u8);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--yes", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("brings back every key", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(header, container.ReadHeader());
    }

    [Fact]
    public void Restore_onto_a_wiped_header_needs_force_and_then_opens_again()
    {
        using var container = TestContainer.Create(LuksVersion.Luks1);
        var backupFile = container.Directory.PathOf("header.bak");
        ContainerCli.Run(["header", "backup", "--container", container.Image, "--file", backupFile]).EnsureSuccess("header backup");
        var original = container.ReadHeader();
        using (var image = new FileStream(container.Image, FileMode.Open, FileAccess.Write))
        {
            image.Write(new byte[4096]);
        }

        var wiped = File.ReadAllBytes(container.Image).AsSpan(0, original.Length).ToArray();

        var refused = ContainerCli.Run(["header", "restore", "--container", container.Image, "--file", backupFile, "--yes"]);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--force", refused.StandardError, StringComparison.Ordinal);
        Assert.Equal(wiped, File.ReadAllBytes(container.Image).AsSpan(0, original.Length).ToArray());

        var forced = ContainerCli.Run(["header", "restore", "--container", container.Image, "--file", backupFile, "--yes", "--force", "--key-file", container.AdminKeyFile]);
        Assert.True(forced.ExitCode == 0, forced.StandardError);
        Assert.Equal(original, container.ReadHeader());
        Assert.True(CryptsetupCli.Opens(container.Image, container.AdminKey.Span, 0));
    }

    [Fact]
    public void Restore_with_a_key_the_backup_does_not_know_is_refused()
    {
        using var container = TestContainer.Create(LuksVersion.Luks2);
        var backupFile = container.Directory.PathOf("header.bak");
        ContainerCli.Run(["header", "backup", "--container", container.Image, "--file", backupFile]).EnsureSuccess("header backup");
        using (var editor = container.OpenEditor())
        {
            editor.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));
        }

        var header = container.ReadHeader();

        // Alice's key came after the backup: restoring would lock her out.
        var result = ContainerCli.Run(["header", "restore", "--container", container.Image, "--file", backupFile, "--yes", "--key-file", container.KeyFileOf("alice", 1)]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("opens no key slot of the backup", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(header, container.ReadHeader());
    }

    [Theory]
    [InlineData(LuksVersion.Luks1)]
    [InlineData(LuksVersion.Luks2)]
    public void A_restore_failing_after_the_write_is_rolled_back_byte_for_byte(LuksVersion version)
    {
        using var container = TestContainer.Create(version);
        var backupFile = container.Directory.PathOf("header.bak");
        ContainerCli.Run(["header", "backup", "--container", container.Image, "--file", backupFile]).EnsureSuccess("header backup");
        using (var editor = container.OpenEditor())
        {
            editor.Add(container.AdminKey, "alice", NewKey.Generated(container.KeysOut));
        }

        var header = container.ReadHeader();

        var result = ContainerCli.RunWithFaults(["header", "restore", "--container", container.Image, "--file", backupFile, "--yes", "--json"],
            new Dictionary<string, string> { [FaultInjectionProgram.FailAfterVariable] = "restore-header" });

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("verified", ContainerCli.Json(result).GetProperty("rollback").GetString());
        Assert.Equal(header, container.ReadHeader());
        using var aliceKey = TestContainer.ReadKeyFile(container.KeyFileOf("alice", 1));
        Assert.True(CryptsetupCli.Opens(container.Image, aliceKey.Span, 1));
    }
}
