using System.Globalization;
using System.Text;
using LuksVirt.Libc;
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

    private static string StatWitness(string path, string format) =>
        ToolRunner.Run("stat", "-c", format, path).EnsureSuccess("stat").StandardOutput.Trim();
}
