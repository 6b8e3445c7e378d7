using System.Globalization;
using LuksVirt.Core.KeySources.KeyDirectory;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Keys;

public sealed class KeyDirectorySourceTests : IDisposable
{
    private readonly TempDirectory _temp = new("keys");
    private readonly string _keys;

    public KeyDirectorySourceTests()
    {
        _keys = _temp.PathOf("keys");
        Directory.CreateDirectory(_keys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Reads_allow_listed_keys_byte_for_byte_with_holder_slot_and_source()
    {
        var alice = WriteKey("luks-alice.1.key", RandomBytes(64));
        var bob = WriteKey("luks-bob.key", RandomBytes(100));

        using var result = KeyDirectoryReader.Read(_keys);

        Assert.Empty(result.Rejected);
        Assert.Empty(result.Ignored);
        Assert.Equal(2, result.Keys.Count);
        var first = result.Keys[0];
        Assert.Equal("alice", first.Holder);
        Assert.Equal(1, first.SlotHint);
        Assert.Equal($"dir:{_keys}/luks-alice.1.key", first.Source);
        AssertSameBytes(alice, first.Secret);
        Assert.Equal("bob", result.Keys[1].Holder);
        Assert.Null(result.Keys[1].SlotHint);
        AssertSameBytes(bob, result.Keys[1].Secret);
        Assert.Equal(["luks-alice.1.key", "luks-bob.key"], result.KeyFileNames);
    }

    [Fact]
    public void A_trailing_newline_is_part_of_the_key()
    {
        var content = "correct horse battery staple\n"u8.ToArray();
        WriteKey("luks-typed.0.key", content);

        using var result = KeyDirectoryReader.Read(_keys);

        AssertSameBytes(content, Assert.Single(result.Keys).Secret);
    }

    [Fact]
    public void Empty_and_oversized_files_are_rejected_and_exactly_the_limit_is_read()
    {
        WriteKey("luks-empty.key", []);
        WriteKey("luks-big.key", new byte[SecretBuffer.MaxKeyLength + 1]);
        var limit = WriteKey("luks-limit.key", RandomBytes(SecretBuffer.MaxKeyLength));

        using var result = KeyDirectoryReader.Read(_keys);

        AssertSameBytes(limit, Assert.Single(result.Keys).Secret);
        Assert.Contains("empty", Reason(result, "luks-empty.key"), StringComparison.Ordinal);
        Assert.Contains($"larger than {SecretBuffer.MaxKeyLength} bytes", Reason(result, "luks-big.key"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_symlink_to_a_real_key_file_is_rejected()
    {
        var outside = _temp.PathOf("real.key");
        File.WriteAllBytes(outside, RandomBytes(64));
        File.CreateSymbolicLink(Path.Combine(_keys, "luks-link.key"), outside);
        File.CreateSymbolicLink(Path.Combine(_keys, "luks-null.key"), "/dev/null");

        using var result = KeyDirectoryReader.Read(_keys);

        Assert.Empty(result.Keys);
        Assert.Contains("symbolic link", Reason(result, "luks-link.key"), StringComparison.Ordinal);
        Assert.Contains("symbolic link", Reason(result, "luks-null.key"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fifo_is_rejected_without_blocking()
    {
        ToolRunner.Run("mkfifo", Path.Combine(_keys, "luks-fifo.key")).EnsureSuccess("mkfifo");
        var good = WriteKey("luks-good.key", RandomBytes(64));

        // Opening a FIFO for reading blocks until a writer appears; none ever will.
        using var result = await Task.Run(() => KeyDirectoryReader.Read(_keys)).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Contains("FIFO", Reason(result, "luks-fifo.key"), StringComparison.Ordinal);
        AssertSameBytes(good, Assert.Single(result.Keys).Secret);
    }

    [Fact]
    public void Device_nodes_and_directories_are_rejected()
    {
        ToolRunner.Run("mknod", Path.Combine(_keys, "luks-chardev.key"), "c", "1", "3").EnsureSuccess("mknod c");
        ToolRunner.Run("mknod", Path.Combine(_keys, "luks-blockdev.key"), "b", "7", "0").EnsureSuccess("mknod b");
        Directory.CreateDirectory(Path.Combine(_keys, "luks-dir.key"));

        using var result = KeyDirectoryReader.Read(_keys);

        Assert.Empty(result.Keys);
        Assert.Contains("character device", Reason(result, "luks-chardev.key"), StringComparison.Ordinal);
        Assert.Contains("block device", Reason(result, "luks-blockdev.key"), StringComparison.Ordinal);
        Assert.Contains("directory", Reason(result, "luks-dir.key"), StringComparison.Ordinal);
    }

    [Fact]
    public void Names_outside_the_allow_list_are_rejected_with_sanitised_names_and_others_ignored()
    {
        WriteKey("luks-a;rm.key", RandomBytes(64));
        WriteKey("luks-a\nb.key", RandomBytes(64));
        WriteKey($"luks-{new string('h', 246)}.key", RandomBytes(64));   // 255 bytes, holder too long
        WriteKey("README", RandomBytes(10));
        WriteKey("notes\u001b.txt", RandomBytes(10));

        using var result = KeyDirectoryReader.Read(_keys);

        Assert.Empty(result.Keys);
        Assert.Contains("';'", Reason(result, "luks-a;rm.key"), StringComparison.Ordinal);
        Assert.Contains("control character", Reason(result, @"luks-a\nb.key"), StringComparison.Ordinal);
        Assert.Contains(result.Rejected, r => r.Reason.Contains("longer than 64", StringComparison.Ordinal) && r.Name.EndsWith("...", StringComparison.Ordinal));
        Assert.Equal(["README", @"notes\x1B.txt"], result.Ignored);
        Assert.All(result.Rejected.SelectMany(r => r.Name + r.Reason), c => Assert.InRange(c, ' ', '~'));
    }

    [Fact]
    public void Names_that_differ_only_in_case_are_both_rejected_as_ambiguous()
    {
        WriteKey("LUKS-A.KEY", RandomBytes(64));
        WriteKey("luks-a.key", RandomBytes(64));
        var other = WriteKey("luks-b.key", RandomBytes(64));

        using var result = KeyDirectoryReader.Read(_keys);

        AssertSameBytes(other, Assert.Single(result.Keys).Secret);
        Assert.Contains("ambiguous", Reason(result, "LUKS-A.KEY"), StringComparison.Ordinal);
        Assert.Contains("ambiguous", Reason(result, "luks-a.key"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_symlinked_key_directory_is_refused()
    {
        var link = _temp.PathOf("keys-link");
        File.CreateSymbolicLink(link, _keys);
        WriteKey("luks-a.key", RandomBytes(64));

        var e = Assert.Throws<KeyDirectoryException>(() => KeyDirectoryReader.Read(link));

        Assert.Contains(link, e.Message, StringComparison.Ordinal);
        Assert.Contains("symbolic link", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_group_writable_key_directory_is_refused_with_the_fix()
    {
        File.SetUnixFileMode(_keys, (UnixFileMode)0b111_111_000);

        var e = Assert.Throws<KeyDirectoryException>(() => KeyDirectoryReader.Read(_keys));

        Assert.Contains("writable by group or others", e.Message, StringComparison.Ordinal);
        Assert.Contains($"chmod 0700 {_keys}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_directory_not_owned_by_root_is_refused_with_the_fix()
    {
        ToolRunner.Run("chown", "nobody", _keys).EnsureSuccess("chown");

        var e = Assert.Throws<KeyDirectoryException>(() => KeyDirectoryReader.Read(_keys));

        Assert.Contains("not root", e.Message, StringComparison.Ordinal);
        Assert.Contains($"chown root:root {_keys}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_key_directory_is_a_clear_error_naming_it()
    {
        var missing = _temp.PathOf("no-such-keys");

        var e = Assert.Throws<KeyDirectoryException>(() => KeyDirectoryReader.Read(missing));

        Assert.Equal($"key directory {missing} does not exist", e.Message);
        Assert.Equal(missing, e.Directory);
    }

    [Fact]
    public void DeleteKeyFiles_removes_exactly_the_files_it_read_and_zeroes_them_through_the_descriptor()
    {
        WriteKey("luks-alice.1.key", RandomBytes(64));
        WriteKey("luks-bob.key", RandomBytes(64));
        WriteKey("luks-carol.2.key", RandomBytes(64));
        WriteKey("README", RandomBytes(8));
        using var stillOpen = File.OpenHandle(Path.Combine(_keys, "luks-alice.1.key"));
        using var result = KeyDirectoryReader.Read(_keys);
        // Dropped after the read: a new key for the next run, not one of the files read.
        var late = WriteKey("luks-late.key", RandomBytes(64));
        File.Delete(Path.Combine(_keys, "luks-carol.2.key"));
        var newCarol = WriteKey("luks-carol.2.key", RandomBytes(64));

        var removed = KeyDirectoryReader.DeleteKeyFiles(result);

        Assert.Equal(["luks-alice.1.key", "luks-bob.key"], removed);
        Assert.Equal(["README", "luks-carol.2.key", "luks-late.key"], Directory.GetFileSystemEntries(_keys).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(late, File.ReadAllBytes(Path.Combine(_keys, "luks-late.key")));
        Assert.Equal(newCarol, File.ReadAllBytes(Path.Combine(_keys, "luks-carol.2.key")));
        // The inode outlives its name while open: its content was overwritten (after the unlink).
        var afterwards = new byte[64];
        Assert.Equal(64, RandomAccess.Read(stillOpen, afterwards, 0));
        Assert.All(afterwards, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task DeleteKeyFiles_unlinks_links_fifos_and_devices_without_following_or_blocking()
    {
        var outside = _temp.PathOf("outside.key");
        var content = RandomBytes(64);
        File.WriteAllBytes(outside, content);
        File.CreateSymbolicLink(Path.Combine(_keys, "luks-link.key"), outside);
        ToolRunner.Run("mkfifo", Path.Combine(_keys, "luks-fifo.key")).EnsureSuccess("mkfifo");
        ToolRunner.Run("mknod", Path.Combine(_keys, "luks-null.key"), "c", "1", "3").EnsureSuccess("mknod");
        using var result = await Task.Run(() => KeyDirectoryReader.Read(_keys)).WaitAsync(TimeSpan.FromSeconds(10));

        var removed = await Task.Run(() => KeyDirectoryReader.DeleteKeyFiles(result)).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(["luks-fifo.key", "luks-link.key", "luks-null.key"], removed);
        Assert.Empty(Directory.GetFileSystemEntries(_keys));
        Assert.Equal(content, File.ReadAllBytes(outside));
    }

    [Fact]
    public void DeleteKeyFiles_never_touches_names_outside_the_allow_list()
    {
        WriteKey("luks-a.key", RandomBytes(64));
        var odd = WriteKey("luks-a;rm.key", RandomBytes(64));
        using var result = KeyDirectoryReader.Read(_keys);

        var removed = KeyDirectoryReader.DeleteKeyFiles(result);

        Assert.Equal(["luks-a.key"], removed);
        Assert.Equal(odd, File.ReadAllBytes(Path.Combine(_keys, "luks-a;rm.key")));
        Assert.True(result.HasRejected);
    }

    [Fact]
    public void Default_and_legacy_directories_match_the_classic_recipe()
    {
        Assert.Equal("/run/luksvirt/keys", KeyDirectorySource.DefaultDirectory);
        Assert.Equal("/dev/shm/lukskeys", KeyDirectorySource.LegacyDirectory);
    }

    private byte[] WriteKey(string name, byte[] content)
    {
        File.WriteAllBytes(Path.Combine(_keys, name), content);
        return content;
    }

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    private static void AssertSameBytes(byte[] expected, SecretBuffer actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        Assert.True(actual.Span.SequenceEqual(expected), string.Create(CultureInfo.InvariantCulture, $"key bytes differ from the file ({expected.Length} bytes)"));
    }

    private static string Reason(KeyDirectoryReadResult result, string sanitizedName) =>
        Assert.Single(result.Rejected, r => r.Name == sanitizedName).Reason;
}
