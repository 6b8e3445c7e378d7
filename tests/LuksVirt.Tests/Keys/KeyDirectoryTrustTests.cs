using LuksVirt.Core.KeySources.KeyDirectory;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Keys;

/// <summary>
/// Who may have put or changed what LuksVirt reads as keys (issue 10, item 10): the path cannot
/// sneak a symbolic link past O_NOFOLLOW, every directory above the key directory is safe from
/// anyone but root, and a key file must be root's alone. Refused entries are reported and left.
/// </summary>
public sealed class KeyDirectoryTrustTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private readonly TempDirectory _temp = new("keytrust");

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("/")]
    [InlineData("//")]
    [InlineData("/.")]
    public void A_symlinked_key_directory_is_refused_however_the_path_ends(string ending)
    {
        var keys = NewKeyDirectory(_temp.PathOf("keys"));
        File.WriteAllBytes(Path.Combine(keys, "luks-alice.key"), [1, 2, 3]);
        var link = _temp.PathOf("keys-link");
        File.CreateSymbolicLink(link, keys);

        var e = Assert.Throws<KeyDirectoryException>(() => KeyDirectoryReader.Read(link + ending));

        Assert.Contains($"key directory {link} is a symbolic link", e.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(keys, "luks-alice.key")));
    }

    [Fact]
    public void A_trailing_slash_on_a_real_directory_is_accepted_and_dropped_from_key_sources()
    {
        var keys = NewKeyDirectory(_temp.PathOf("keys"));
        File.WriteAllBytes(Path.Combine(keys, "luks-alice.key"), [1, 2, 3]);

        using var result = KeyDirectoryReader.Read(keys + "/");

        Assert.Equal(keys, result.Directory);
        Assert.Equal($"dir:{keys}/luks-alice.key", Assert.Single(result.Keys).Source);
    }

    [Theory]
    [InlineData(0b111_111_111, "root", "writable by group or others (mode 0777)", "chmod go-w")]
    [InlineData(0b111_111_101, "root", "writable by group or others (mode 0775)", "chmod go-w")]
    [InlineData(0b111_101_101, "nobody", "owned by uid", "chown root")]
    [InlineData(0b001_111_111_111, "nobody", "owned by uid", "chown root")]   // sticky, but not root's
    public void A_key_directory_below_a_directory_others_may_write_is_refused_naming_it_and_the_fix(int mode, string owner, string fault, string fix)
    {
        var open = _temp.PathOf("open");
        Directory.CreateDirectory(open);
        var keys = NewKeyDirectory(Path.Combine(open, "keys"));
        File.WriteAllBytes(Path.Combine(keys, "luks-alice.key"), [1, 2, 3]);
        ToolRunner.Run("chown", owner, open).EnsureSuccess("chown");
        File.SetUnixFileMode(open, (UnixFileMode)mode);

        var e = Assert.Throws<KeyDirectoryException>(() => KeyDirectoryReader.Read(keys));

        Assert.Contains($"key directory {keys} lies inside {open}, which is {fault}", e.Message, StringComparison.Ordinal);
        Assert.Contains($"fix: {fix} {open}", e.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(keys, "luks-alice.key")));
    }

    [Fact]
    public void A_key_directory_in_a_root_owned_sticky_directory_like_dev_shm_is_accepted()
    {
        var shm = _temp.PathOf("shm");
        Directory.CreateDirectory(shm);
        File.SetUnixFileMode(shm, (UnixFileMode)0b001_111_111_111);   // 1777 root, as /dev/shm and /tmp
        var keys = NewKeyDirectory(Path.Combine(shm, "lukskeys"));
        File.WriteAllBytes(Path.Combine(keys, "luks-alice.key"), [1, 2, 3]);

        using var result = KeyDirectoryReader.Read(keys);

        Assert.Single(result.Keys);
    }

    [Fact]
    public void Symbolic_links_above_the_key_directory_are_judged_by_where_they_lead()
    {
        var safe = _temp.PathOf("safe");
        var keys = NewKeyDirectory(Path.Combine(safe, "keys"));
        File.WriteAllBytes(Path.Combine(keys, "luks-alice.key"), [1, 2, 3]);
        var open = _temp.PathOf("open");
        Directory.CreateDirectory(open);
        NewKeyDirectory(Path.Combine(open, "keys"));
        File.SetUnixFileMode(open, (UnixFileMode)0b111_111_111);
        // Like /var/run -> /run: the link itself is in a safe place; what counts is the real parent.
        File.CreateSymbolicLink(_temp.PathOf("to-safe"), safe);
        File.CreateSymbolicLink(_temp.PathOf("to-open"), open);

        using var result = KeyDirectoryReader.Read(_temp.PathOf("to-safe/keys"));
        var e = Assert.Throws<KeyDirectoryException>(() => KeyDirectoryReader.Read(_temp.PathOf("to-open/keys")));

        Assert.Single(result.Keys);
        Assert.Contains($"lies inside {open}, which is writable by group or others", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Key_files_owned_by_another_user_or_writable_by_others_are_refused_and_left_as_they_are()
    {
        var keys = NewKeyDirectory(_temp.PathOf("keys"));
        var foreign = Write(keys, "luks-foreign.key");
        ToolRunner.Run("chown", "nobody", Path.Combine(keys, "luks-foreign.key")).EnsureSuccess("chown");
        var open = Write(keys, "luks-open.key");
        File.SetUnixFileMode(Path.Combine(keys, "luks-open.key"), (UnixFileMode)0b110_110_110);
        var groupWritable = Write(keys, "luks-group.key");
        File.SetUnixFileMode(Path.Combine(keys, "luks-group.key"), (UnixFileMode)0b110_110_000);
        Write(keys, "luks-good.key");

        using (var presentation = DirectoryKeyPresentation.Read(keys))
        {
            Assert.Equal(["good"], presentation.Keys.Select(k => k.Holder));
            var reasons = presentation.Report.Rejected.ToDictionary(r => r.Name, r => r.Reason);
            Assert.Contains("owned by uid", reasons["luks-foreign.key"], StringComparison.Ordinal);
            Assert.Contains($"chown root:root {keys}/luks-foreign.key", reasons["luks-foreign.key"], StringComparison.Ordinal);
            Assert.Contains("writable by group or others (mode 0666)", reasons["luks-open.key"], StringComparison.Ordinal);
            Assert.Contains($"chmod 0600 {keys}/luks-open.key", reasons["luks-open.key"], StringComparison.Ordinal);
            Assert.Contains("writable by group or others (mode 0660)", reasons["luks-group.key"], StringComparison.Ordinal);
            Assert.True(presentation.LeftRefusedKeyFiles);

            presentation.WipeSource();
        }

        Assert.Equal(["luks-foreign.key", "luks-group.key", "luks-open.key"], Entries(keys));
        Assert.Equal(foreign, File.ReadAllBytes(Path.Combine(keys, "luks-foreign.key")));
        Assert.Equal(open, File.ReadAllBytes(Path.Combine(keys, "luks-open.key")));
        Assert.Equal(groupWritable, File.ReadAllBytes(Path.Combine(keys, "luks-group.key")));
    }

    [Fact]
    public void A_directory_named_like_a_key_file_is_reported_left_alone_and_the_clean_up_succeeds()
    {
        var keys = NewKeyDirectory(_temp.PathOf("keys"));
        Directory.CreateDirectory(Path.Combine(keys, "luks-d.key"));
        File.WriteAllBytes(Path.Combine(keys, "luks-d.key", "inside"), [7]);
        Write(keys, "luks-good.key");

        using (var presentation = DirectoryKeyPresentation.Read(keys))
        {
            var rejected = Assert.Single(presentation.Report.Rejected);
            Assert.Equal("luks-d.key", rejected.Name);
            Assert.Contains($"is a directory, not a key file; LuksVirt never removes directories: fix: rmdir {keys}/luks-d.key", rejected.Reason, StringComparison.Ordinal);
            Assert.True(presentation.LeftRefusedKeyFiles);

            presentation.WipeSource();   // no IOException: the directory is not meant to be removed
            Assert.True(presentation.Report.Deleted);
        }

        Assert.Equal(["luks-d.key"], Entries(keys));
        Assert.Equal([7], File.ReadAllBytes(Path.Combine(keys, "luks-d.key", "inside")));
    }

    [Fact]
    public void A_clean_directory_has_no_rejected_entries()
    {
        var keys = NewKeyDirectory(_temp.PathOf("keys"));
        Write(keys, "luks-good.key");
        File.WriteAllText(Path.Combine(keys, "README"), "not a key");

        using var presentation = DirectoryKeyPresentation.Read(keys);

        Assert.False(presentation.LeftRefusedKeyFiles);
    }

    private static string NewKeyDirectory(string path)
    {
        Directory.CreateDirectory(path, Private);
        return path;
    }

    private static byte[] Write(string directory, string name)
    {
        var content = new byte[64];
        Random.Shared.NextBytes(content);
        File.WriteAllBytes(Path.Combine(directory, name), content);
        return content;
    }

    private static string[] Entries(string directory) =>
        [.. Directory.GetFileSystemEntries(directory).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal)];
}
