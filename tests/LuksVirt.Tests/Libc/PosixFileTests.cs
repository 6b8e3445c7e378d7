using System.Globalization;
using System.Text;
using LuksVirt.Interop.Libc;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Libc;

public sealed class PosixFileTests : IDisposable
{
    private readonly TempDirectory _dir = new("posix");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void OpenNoFollow_on_a_symlink_fails_with_a_clear_error()
    {
        var target = _dir.PathOf("target");
        File.WriteAllText(target, "data");
        var link = _dir.PathOf("link");
        File.CreateSymbolicLink(link, target);

        var e = Assert.Throws<SymbolicLinkRefusedException>(() => PosixFile.OpenNoFollow(link, out _));

        Assert.Equal(link, e.Path);
        Assert.Contains(link, e.Message, StringComparison.Ordinal);
        Assert.Contains("symbolic link", e.Message, StringComparison.Ordinal);
        Assert.Contains("not follow", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenNoFollow_on_a_fifo_returns_at_once_with_type_Fifo()
    {
        var fifo = _dir.PathOf("fifo");
        ToolRunner.Run("mkfifo", fifo).EnsureSuccess("mkfifo");

        // A blocking open of a FIFO without a writer would hang forever; the timeout turns that into a failure.
        var status = await Task.Run(() =>
        {
            using var handle = PosixFile.OpenNoFollow(fifo, out var s);
            return s;
        }).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(PosixFileType.Fifo, status.Type);
    }

    [Fact]
    public void OpenNoFollow_on_a_regular_file_reports_what_stat_reports()
    {
        var path = _dir.PathOf("regular");
        File.WriteAllBytes(path, new byte[1234]);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        using var handle = PosixFile.OpenNoFollow(path, out var status);

        Assert.Equal(PosixFileType.Regular, status.Type);
        Assert.Equal(1234, status.Size);
        Assert.Equal((UnixFileMode)0b110_100_000, status.Permissions);
        var witness = StatWitness(path, "%s %i %u %g %d %f");
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"{status.Size} {status.Inode} {status.Uid} {status.Gid} {status.Device} {status.Mode:x}"), witness);
        Assert.Equal(status, PosixFile.GetStatus(handle));
    }

    [Fact]
    public void OpenNoFollow_on_a_missing_file_throws_FileNotFoundException_naming_it()
    {
        var path = _dir.PathOf("missing");

        var e = Assert.Throws<FileNotFoundException>(() => PosixFile.OpenNoFollow(path, out _));

        Assert.Equal(path, e.FileName);
        Assert.Contains("No such file or directory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetLinkStatus_describes_links_and_devices_without_following()
    {
        var link = _dir.PathOf("null-link");
        File.CreateSymbolicLink(link, "/dev/null");

        Assert.Equal(PosixFileType.SymbolicLink, PosixFile.GetLinkStatus(link).Type);
        var devNull = PosixFile.GetLinkStatus("/dev/null");
        Assert.Equal(PosixFileType.CharacterDevice, devNull.Type);
        // /dev/null is major 1, minor 3; stat(1) prints them in hex.
        Assert.Equal("1 3", StatWitness("/dev/null", "%t %T"));
        Assert.Equal((1UL << 8) | 3UL, devNull.RawDevice);
        Assert.Equal(PosixFileType.Directory, PosixFile.GetLinkStatus(_dir.Path).Type);
    }

    [Fact]
    public void OpenDirectoryNoFollow_refuses_a_symlinked_directory_and_a_file()
    {
        var real = Directory.CreateDirectory(_dir.PathOf("real")).FullName;
        var link = _dir.PathOf("dir-link");
        File.CreateSymbolicLink(link, real);
        var file = _dir.PathOf("file");
        File.WriteAllText(file, "x");

        Assert.Throws<SymbolicLinkRefusedException>(() => PosixFile.OpenDirectoryNoFollow(link));
        var notDirectory = Assert.Throws<IOException>(() => PosixFile.OpenDirectoryNoFollow(file));
        Assert.Contains("Not a directory", notDirectory.Message, StringComparison.Ordinal);
        using var handle = PosixFile.OpenDirectoryNoFollow(real);
        Assert.Equal(PosixFileType.Directory, PosixFile.GetStatus(handle).Type);
    }

    [Fact]
    public void OpenAtNoFollow_ListDirectory_and_UnlinkAt_work_relative_to_the_directory_handle()
    {
        File.WriteAllText(_dir.PathOf("a"), "alpha");
        File.WriteAllText(_dir.PathOf("b"), "bb");
        Directory.CreateDirectory(_dir.PathOf("sub"));
        File.CreateSymbolicLink(_dir.PathOf("link"), _dir.PathOf("a"));
        using var directory = PosixFile.OpenDirectoryNoFollow(_dir.Path);

        Assert.Equal(["a", "b", "link", "sub"], PosixFile.ListDirectory(directory).Order(StringComparer.Ordinal));
        // A second listing sees the same entries: the handle's position is not consumed.
        Assert.Equal(4, PosixFile.ListDirectory(directory).Count);

        using (var a = PosixFile.OpenAtNoFollow(directory, "a", out var status))
        {
            Assert.Equal(PosixFileType.Regular, status.Type);
            Assert.Equal(5, status.Size);
            var buffer = new byte[16];
            Assert.Equal("alpha", Encoding.ASCII.GetString(buffer, 0, RandomAccess.Read(a, buffer, 0)));
        }

        Assert.Throws<SymbolicLinkRefusedException>(() => PosixFile.OpenAtNoFollow(directory, "link", out _));
        Assert.Equal(PosixFileType.SymbolicLink, PosixFile.GetLinkStatusAt(directory, "link").Type);
        Assert.Throws<ArgumentException>(() => PosixFile.OpenAtNoFollow(directory, "sub/../a", out _));

        PosixFile.UnlinkAt(directory, "link");
        PosixFile.UnlinkAt(directory, "a");

        Assert.Equal(["b", "sub"], PosixFile.ListDirectory(directory).Order(StringComparer.Ordinal));
        Assert.False(File.Exists(_dir.PathOf("a")));
        Assert.Throws<FileNotFoundException>(() => PosixFile.UnlinkAt(directory, "a"));
    }

    [Fact]
    public void ListDirectory_returns_many_entries_across_several_reads()
    {
        var expected = Enumerable.Range(0, 700).Select(i => $"entry-with-a-long-name-{i:D4}").ToList();
        foreach (var name in expected)
        {
            File.WriteAllBytes(_dir.PathOf(name), []);
        }

        using var directory = PosixFile.OpenDirectoryNoFollow(_dir.Path);

        Assert.Equal(expected, PosixFile.ListDirectory(directory).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void CreateExclusive_creates_a_new_file_with_exactly_the_mode_and_content()
    {
        var path = _dir.PathOf("new.key");
        byte[] content = [1, 2, 3, 0, 10, 255];

        PosixFile.CreateExclusive(path, content, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Equal("600", StatWitness(path, "%a"));
    }

    [Fact]
    public void CreateExclusive_refuses_an_existing_file_and_leaves_it_unchanged()
    {
        var path = _dir.PathOf("existing");
        File.WriteAllText(path, "keep me");

        var e = Assert.Throws<IOException>(() => PosixFile.CreateExclusive(path, "new"u8, UnixFileMode.UserRead | UnixFileMode.UserWrite));

        Assert.Contains("File exists", e.Message, StringComparison.Ordinal);
        Assert.Equal("keep me", File.ReadAllText(path));
    }

    [Fact]
    public void CreateExclusive_refuses_a_dangling_symlink_and_creates_nothing_at_its_target()
    {
        var target = _dir.PathOf("would-be-created");
        var link = _dir.PathOf("planted");
        File.CreateSymbolicLink(link, target);

        Assert.ThrowsAny<IOException>(() => PosixFile.CreateExclusive(link, "secret"u8, UnixFileMode.UserRead | UnixFileMode.UserWrite));

        Assert.False(File.Exists(target));
        Assert.Equal(PosixFileType.SymbolicLink, PosixFile.GetLinkStatus(link).Type);
    }

    [Fact]
    public void ChangeOwner_changes_a_file_and_refuses_a_symlink()
    {
        var ids = PosixFile.LookupUserAndGroup("nobody", "nogroup");
        Assert.NotNull(ids);
        var file = _dir.PathOf("owned");
        File.WriteAllText(file, "x");
        var link = _dir.PathOf("owned-link");
        File.CreateSymbolicLink(link, file);

        PosixFile.ChangeOwner(file, ids.Value.Uid, ids.Value.Gid);
        Assert.Throws<SymbolicLinkRefusedException>(() => PosixFile.ChangeOwner(link, 0, 0));

        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"{ids.Value.Uid} {ids.Value.Gid}"), StatWitness(file, "%u %g"));
        Assert.Equal("0 0", StatWitness(link, "%u %g"));
    }

    [Fact]
    public void LookupUserAndGroup_matches_getent_and_returns_null_for_unknown_names()
    {
        Assert.Equal((0, 0), PosixFile.LookupUserAndGroup("root", "root"));
        var nobody = ToolRunner.Run("id", "-u", "nobody").EnsureSuccess("id").StandardOutput.Trim();
        Assert.Equal(int.Parse(nobody, CultureInfo.InvariantCulture), PosixFile.LookupUserAndGroup("nobody", "root")!.Value.Uid);
        Assert.Null(PosixFile.LookupUserAndGroup("no-such-user-luksvirt", "root"));
        Assert.Null(PosixFile.LookupUserAndGroup("root", "no-such-group-luksvirt"));
    }

    [Fact]
    public void Status_reports_the_link_count_and_an_identity_that_a_new_file_under_the_old_inode_does_not_share()
    {
        var path = _dir.PathOf("counted");
        File.WriteAllText(path, "x");
        ToolRunner.Run("ln", path, _dir.PathOf("second-name")).EnsureSuccess("ln");

        var status = PosixFile.GetLinkStatus(path);

        Assert.Equal(2u, status.LinkCount);
        Assert.Equal(StatWitness(path, "%h"), status.LinkCount.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(status.Identity, PosixFile.GetLinkStatus(_dir.PathOf("second-name")).Identity);
        File.Delete(path);
        File.Delete(_dir.PathOf("second-name"));
        File.WriteAllText(path, "y");   // often gets the freed inode number back
        Assert.NotEqual(status.Identity, PosixFile.GetLinkStatus(path).Identity);
    }

    [Fact]
    public void UnlinkThenZeroAt_removes_the_name_then_zeroes_the_file_through_the_descriptor()
    {
        var content = RandomBytes(5000);
        File.WriteAllBytes(_dir.PathOf("key"), content);
        using var witness = File.OpenHandle(_dir.PathOf("key"));
        using var directory = PosixFile.OpenDirectoryNoFollow(_dir.Path);
        var identity = PosixFile.GetLinkStatusAt(directory, "key").Identity;

        Assert.Equal(UnlinkOutcome.RemovedAndZeroed, PosixFile.UnlinkThenZeroAt(directory, "key", identity, 8192));

        Assert.False(File.Exists(_dir.PathOf("key")));
        Assert.True(ReadAll(witness, 5000).All(b => b == 0));
        Assert.Equal(UnlinkOutcome.Gone, PosixFile.UnlinkThenZeroAt(directory, "key", identity, 8192));
    }

    [Fact]
    public void UnlinkThenZeroAt_zeroes_no_more_than_asked()
    {
        var content = RandomBytes(64 * 1024);
        File.WriteAllBytes(_dir.PathOf("long"), content);
        using var witness = File.OpenHandle(_dir.PathOf("long"));
        using var directory = PosixFile.OpenDirectoryNoFollow(_dir.Path);

        PosixFile.UnlinkThenZeroAt(directory, "long", PosixFile.GetLinkStatusAt(directory, "long").Identity, 4096);

        var after = ReadAll(witness, content.Length);
        Assert.True(after.AsSpan(0, 4096).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(after.AsSpan(4096).SequenceEqual(content.AsSpan(4096)));
    }

    [Fact]
    public void UnlinkThenZeroAt_leaves_a_hard_linked_file_and_a_different_file_entirely_alone()
    {
        var shared = RandomBytes(64);
        File.WriteAllBytes(_dir.PathOf("shared"), shared);
        ToolRunner.Run("ln", _dir.PathOf("shared"), _dir.PathOf("elsewhere")).EnsureSuccess("ln");
        var other = RandomBytes(64);
        File.WriteAllBytes(_dir.PathOf("other"), other);
        using var directory = PosixFile.OpenDirectoryNoFollow(_dir.Path);
        var sharedIdentity = PosixFile.GetLinkStatusAt(directory, "shared").Identity;

        Assert.Equal(UnlinkOutcome.HasOtherLinks, PosixFile.UnlinkThenZeroAt(directory, "shared", sharedIdentity, 8192));
        Assert.Equal(UnlinkOutcome.NotSameFile, PosixFile.UnlinkThenZeroAt(directory, "other", sharedIdentity, 8192));

        Assert.Equal(shared, File.ReadAllBytes(_dir.PathOf("shared")));
        Assert.Equal(shared, File.ReadAllBytes(_dir.PathOf("elsewhere")));
        Assert.Equal(other, File.ReadAllBytes(_dir.PathOf("other")));
    }

    [Fact]
    public void UnlinkThenZeroAt_removes_a_symbolic_link_and_never_its_target()
    {
        var target = _dir.PathOf("target");
        File.WriteAllText(target, "keep");
        File.CreateSymbolicLink(_dir.PathOf("link"), target);
        using var directory = PosixFile.OpenDirectoryNoFollow(_dir.Path);

        Assert.Equal(UnlinkOutcome.Removed, PosixFile.UnlinkThenZeroAt(directory, "link", PosixFile.GetLinkStatusAt(directory, "link").Identity, 8192));

        Assert.False(Path.Exists(_dir.PathOf("link")));
        Assert.Equal("keep", File.ReadAllText(target));
    }

    [Fact]
    public void OpenParentDirectory_goes_to_the_real_parent_and_stops_at_the_root()
    {
        var real = Directory.CreateDirectory(_dir.PathOf("real/child")).FullName;
        File.CreateSymbolicLink(_dir.PathOf("shortcut"), real);
        using var child = PosixFile.OpenDirectoryNoFollow(_dir.PathOf("real/child"));
        using var root = PosixFile.OpenDirectoryNoFollow("/");

        using var parent = PosixFile.OpenParentDirectory(child);
        using var aboveRoot = PosixFile.OpenParentDirectory(root);

        Assert.Equal(PosixFile.GetLinkStatus(_dir.PathOf("real")).Identity, PosixFile.GetStatus(parent).Identity);
        Assert.Equal(_dir.PathOf("real"), PosixFile.DescribeOpenPath(parent));
        Assert.Equal(PosixFile.GetStatus(root).Identity, PosixFile.GetStatus(aboveRoot).Identity);
    }

    [Fact]
    public void OpenDirectoryAtNoFollow_refuses_a_symlinked_subdirectory()
    {
        Directory.CreateDirectory(_dir.PathOf("sub"));
        File.CreateSymbolicLink(_dir.PathOf("sub-link"), _dir.PathOf("sub"));
        using var directory = PosixFile.OpenDirectoryNoFollow(_dir.Path);

        Assert.Throws<SymbolicLinkRefusedException>(() => PosixFile.OpenDirectoryAtNoFollow(directory, "sub-link"));
        using var sub = PosixFile.OpenDirectoryAtNoFollow(directory, "sub");
        Assert.Equal(PosixFileType.Directory, PosixFile.GetStatus(sub).Type);
    }

    [Fact]
    public void CreateExclusiveAt_creates_inside_the_open_directory_and_never_through_a_link()
    {
        var sub = Directory.CreateDirectory(_dir.PathOf("sub")).FullName;
        using var directory = PosixFile.OpenDirectoryNoFollow(sub);
        var target = _dir.PathOf("would-be-created");
        File.CreateSymbolicLink(Path.Combine(sub, "planted"), target);

        var identity = PosixFile.CreateExclusiveAt(directory, "new.key", [1, 2, 3], UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var exists = Assert.Throws<IOException>(() => PosixFile.CreateExclusiveAt(directory, "new.key", [9], UnixFileMode.UserRead));
        Assert.ThrowsAny<IOException>(() => PosixFile.CreateExclusiveAt(directory, "planted", [9], UnixFileMode.UserRead));

        Assert.Equal([1, 2, 3], File.ReadAllBytes(Path.Combine(sub, "new.key")));
        Assert.Equal("600", StatWitness(Path.Combine(sub, "new.key"), "%a"));
        Assert.Equal(identity, PosixFile.GetLinkStatus(Path.Combine(sub, "new.key")).Identity);
        Assert.Contains("File exists", exists.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(target));
    }

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    private static byte[] ReadAll(Microsoft.Win32.SafeHandles.SafeFileHandle file, int length)
    {
        var bytes = new byte[length];
        Assert.Equal(length, RandomAccess.Read(file, bytes, 0));
        return bytes;
    }

    private static string StatWitness(string path, string format) =>
        ToolRunner.Run("stat", "-c", format, path).EnsureSuccess("stat").StandardOutput.Trim();
}
