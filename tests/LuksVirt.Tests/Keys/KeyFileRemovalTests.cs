using LuksVirt.Core.KeySources.KeyDirectory;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Keys;

/// <summary>
/// What the clean-up after an unlock may and may not change (issue 10, items 1, 5, 26): files with
/// a second name are never read or written, names go before any byte is written, a file that
/// was never a key is not written over its length, and the directory that was read is the one
/// cleaned, through its descriptor.
/// </summary>
public sealed class KeyFileRemovalTests : IDisposable
{
    private const int SeekData = 3;   // SEEK_DATA: the next offset at or after which data is stored

    private readonly TempDirectory _temp = new("keyrm");
    private readonly string _keys;

    public KeyFileRemovalTests()
    {
        _keys = _temp.PathOf("keys");
        Directory.CreateDirectory(_keys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void A_hard_linked_key_file_is_refused_never_written_and_its_other_name_keeps_every_byte()
    {
        var backup = WriteOutside("backup.key", RandomBytes(64));
        var big = WriteOutside("big.bin", RandomBytes(100 * 1024));   // too large to be read as a key
        ToolRunner.Run("ln", _temp.PathOf("backup.key"), Path.Combine(_keys, "luks-alice.key")).EnsureSuccess("ln");
        ToolRunner.Run("ln", _temp.PathOf("big.bin"), Path.Combine(_keys, "luks-big.key")).EnsureSuccess("ln");
        File.WriteAllBytes(Path.Combine(_keys, "luks-bob.key"), RandomBytes(64));

        using (var result = KeyDirectoryReader.Read(_keys))
        {
            Assert.Equal(["bob"], result.Keys.Select(k => k.Holder));
            Assert.Contains("hard link", Reason(result, "luks-alice.key"), StringComparison.Ordinal);
            Assert.Contains("hard link", Reason(result, "luks-big.key"), StringComparison.Ordinal);
            Assert.Contains($"rm {_keys}/luks-alice.key", Reason(result, "luks-alice.key"), StringComparison.Ordinal);
            Assert.True(result.HasRejected);

            Assert.Equal(["luks-bob.key"], KeyDirectoryReader.DeleteKeyFiles(result));
        }

        Assert.Equal(backup, File.ReadAllBytes(_temp.PathOf("backup.key")));
        Assert.Equal(big, File.ReadAllBytes(_temp.PathOf("big.bin")));
        // Left where it was: removing the name would change the other file's link count.
        Assert.Equal(["luks-alice.key", "luks-big.key"], Entries());
    }

    [Fact]
    public void A_key_file_linked_elsewhere_after_the_read_is_not_written_to()
    {
        var key = RandomBytes(64);
        File.WriteAllBytes(Path.Combine(_keys, "luks-alice.key"), key);
        using var result = KeyDirectoryReader.Read(_keys);
        ToolRunner.Run("ln", Path.Combine(_keys, "luks-alice.key"), _temp.PathOf("taken.key")).EnsureSuccess("ln");

        var e = Assert.Throws<IOException>(() => KeyDirectoryReader.DeleteKeyFiles(result));

        Assert.Contains("luks-alice.key", e.Message, StringComparison.Ordinal);
        Assert.Contains("hard link", e.Message, StringComparison.Ordinal);
        Assert.Equal(key, File.ReadAllBytes(_temp.PathOf("taken.key")));
    }

    [Fact]
    public void A_removed_key_file_loses_its_name_and_its_content_is_zeroed_through_the_descriptor()
    {
        File.WriteAllBytes(Path.Combine(_keys, "luks-alice.key"), RandomBytes(4000));
        using var witness = File.OpenHandle(Path.Combine(_keys, "luks-alice.key"));
        using var result = KeyDirectoryReader.Read(_keys);

        Assert.Equal(["luks-alice.key"], KeyDirectoryReader.DeleteKeyFiles(result));

        Assert.Empty(Entries());
        var content = new byte[4000];
        Assert.Equal(4000, RandomAccess.Read(witness, content, 0));
        Assert.All(content, b => Assert.Equal(0, b));
    }

    [Fact]
    public void A_huge_sparse_file_refused_as_too_large_is_removed_without_being_filled_with_zeros()
    {
        const long size = 64L * 1024 * 1024;
        var path = Path.Combine(_keys, "luks-huge.key");
        using (var file = File.Create(path))
        {
            file.SetLength(size);   // a hole: no block stored
        }

        using var witness = File.OpenHandle(path);
        using var result = KeyDirectoryReader.Read(_keys);
        Assert.Contains("larger than", Reason(result, "luks-huge.key"), StringComparison.Ordinal);

        Assert.Equal(["luks-huge.key"], KeyDirectoryReader.DeleteKeyFiles(result));

        Assert.Empty(Entries());
        // At most what a key can be was written; no data lies beyond (lseek fails with ENXIO).
        var beyondKeys = (long)SecretBuffer.MaxKeyLength + (1024 * 1024);
        Assert.Equal(-1, LuksVirt.Interop.Interop.Libc.Lseek(witness, beyondKeys, SeekData));
    }

    [Fact]
    public void The_directory_that_was_read_is_the_one_cleaned_even_after_its_path_names_another()
    {
        File.WriteAllBytes(Path.Combine(_keys, "luks-alice.key"), RandomBytes(64));
        using var result = KeyDirectoryReader.Read(_keys);
        var moved = _temp.PathOf("moved-keys");
        Directory.Move(_keys, moved);
        Directory.CreateDirectory(_keys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var impostor = RandomBytes(64);
        File.WriteAllBytes(Path.Combine(_keys, "luks-alice.key"), impostor);

        Assert.Equal(["luks-alice.key"], KeyDirectoryReader.DeleteKeyFiles(result));

        Assert.Empty(Directory.GetFileSystemEntries(moved));
        Assert.Equal(impostor, File.ReadAllBytes(Path.Combine(_keys, "luks-alice.key")));
    }

    [Fact]
    public void Identical_keys_under_names_equal_apart_from_case_are_one_key_and_both_files_are_removed()
    {
        var key = RandomBytes(64);
        File.WriteAllBytes(Path.Combine(_keys, "LUKS-ALICE.KEY"), key);
        File.WriteAllBytes(Path.Combine(_keys, "luks-alice.key"), key);

        using var result = KeyDirectoryReader.Read(_keys);

        var only = Assert.Single(result.Keys);
        Assert.True(only.Secret.Span.SequenceEqual(key));
        Assert.Empty(result.Rejected);
        Assert.Equal(["luks-alice.key (the same key as LUKS-ALICE.KEY, used once)"], result.Ignored);
        Assert.Equal(["LUKS-ALICE.KEY", "luks-alice.key"], KeyDirectoryReader.DeleteKeyFiles(result));
        Assert.Empty(Entries());
    }

    private byte[] WriteOutside(string name, byte[] content)
    {
        File.WriteAllBytes(_temp.PathOf(name), content);
        return content;
    }

    private string[] Entries() => [.. Directory.GetFileSystemEntries(_keys).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal)];

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    private static string Reason(KeyDirectoryReadResult result, string name) =>
        Assert.Single(result.Rejected, r => r.Name == name).Reason;
}
