using LuksVirt.Core.Logging;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Logging;

/// <summary>
/// The log file is opened as the state file is (reliability.md "Hostile review" 7 and 9): never
/// through a symbolic link, never blocking, a regular file owned by the runner and open to no one
/// else; and a write that fails is counted for one warning, never an exception.
/// </summary>
public sealed class ActivityLogTests : IDisposable
{
    private readonly TempDirectory _directory = new("log");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void A_new_log_file_is_created_0600_and_appended_to()
    {
        var path = _directory.PathOf("sub/luksvirt.log");
        using (var log = new ActivityLog(path, console: null))
        {
            log.Info("first");
        }

        using (var log = new ActivityLog(path, console: null))
        {
            log.Warning("second");
            Assert.Null(log.Refusal);
            Assert.Empty(log.FileErrors);
        }

        var lines = File.ReadAllLines(path);
        Assert.Equal(2, lines.Length);
        Assert.EndsWith("info: first", lines[0], StringComparison.Ordinal);
        Assert.EndsWith("warning: second", lines[1], StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public void A_symlink_is_refused_and_its_target_never_written()
    {
        var victim = _directory.PathOf("victim");
        File.WriteAllText(victim, "precious\n");
        var path = _directory.PathOf("luksvirt.log");
        File.CreateSymbolicLink(path, victim);
        var console = new StringWriter();

        using (var log = new ActivityLog(path, console))
        {
            log.Error("through the link?");
            Assert.Equal($"log file {path} is a symbolic link; LuksVirt does not follow symbolic links here; name the real file with --log, or remove the link", log.Refusal);
        }

        Assert.Equal("precious\n", File.ReadAllText(victim));
        Assert.Contains("through the link?", console.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_dangling_symlink_is_refused_and_nothing_is_created_where_it_points()
    {
        var target = _directory.PathOf("created-elsewhere");
        var path = _directory.PathOf("luksvirt.log");
        File.CreateSymbolicLink(path, target);

        using var log = new ActivityLog(path, console: null);
        log.Info("x");

        Assert.NotNull(log.Refusal);
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task A_fifo_is_refused_at_once()
    {
        var path = _directory.PathOf("fifo");
        ToolRunner.Run("mkfifo", path).EnsureSuccess("mkfifo");

        // A blocking open would wait for a reader: the test reads once itself so that a
        // regression fails instead of hanging.
        var open = Task.Run(() => new ActivityLog(path, console: null));
        if (await Task.WhenAny(open, Task.Delay(TimeSpan.FromSeconds(20))) != open)
        {
            using var reader = new FileStream(path, FileMode.Open, FileAccess.Read);
            Assert.Fail("opening a FIFO as the log blocked");
        }

        using var log = await open;
        Assert.Equal($"log file {path} is a FIFO, not a regular file; name a regular file with --log", log.Refusal);
    }

    [Theory]
    [InlineData(0b110_100_100, true)]    // 0644: others read
    [InlineData(0b110_110_000, true)]    // 0660: group writes
    [InlineData(0b110_000_010, true)]    // 0602
    [InlineData(0b110_100_000, false)]   // 0640
    [InlineData(0b100_000_000, false)]   // 0400: appending still works for root
    public void A_log_open_to_others_is_refused(int mode, bool refused)
    {
        var path = _directory.PathOf("luksvirt.log");
        File.WriteAllText(path, "");
        File.SetUnixFileMode(path, (UnixFileMode)mode);

        using var log = new ActivityLog(path, console: null);
        log.Info("line");

        if (refused)
        {
            Assert.Equal($"log file {path} is open to others (mode {Convert.ToString(mode, 8)}); fix: chmod 0600 {path} (0640 lets its group read it)", log.Refusal);
            Assert.Equal(0, new FileInfo(path).Length);
        }
        else
        {
            Assert.Null(log.Refusal);
            Assert.NotEqual(0, new FileInfo(path).Length);
        }
    }

    [Fact]
    public void A_log_owned_by_another_user_is_refused()
    {
        var path = _directory.PathOf("luksvirt.log");
        File.WriteAllText(path, "");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        ToolRunner.Run("chown", "65534", path).EnsureSuccess("chown");

        using var log = new ActivityLog(path, console: null);

        Assert.Equal($"log file {path} is owned by uid 65534, not by uid 0 that runs luksvirt; fix: chown 0 {path}, or name another file with --log", log.Refusal);
    }

    [Fact]
    public void A_log_that_cannot_be_written_counts_the_lost_lines_and_never_throws()
    {
        var mountPoint = _directory.PathOf("full");
        Directory.CreateDirectory(mountPoint);
        ToolRunner.Run("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "luksvirt-test", mountPoint).EnsureSuccess("mount tmpfs");
        try
        {
            var path = Path.Combine(mountPoint, "luksvirt.log");
            using var log = new ActivityLog(path, console: null);
            ToolRunner.Run("dd", "if=/dev/zero", $"of={Path.Combine(mountPoint, "filler")}", "bs=4k");

            log.Info("lost");
            log.Error("lost too");

            Assert.Null(log.Refusal);
            Assert.Equal(2, log.FailedWrites);
            Assert.Equal($"2 line(s) could not be written to the log file {path} ({path}: No space left on device (write)); they were shown on stderr only", log.WriteFailureSummary);
        }
        finally
        {
            ToolRunner.Run("umount", mountPoint).EnsureSuccess("umount tmpfs");
        }
    }

    [Fact]
    public void A_message_is_cut_at_its_bound()
    {
        var path = _directory.PathOf("luksvirt.log");
        using (var log = new ActivityLog(path, console: null))
        {
            log.Info(new string('m', 1_000_000));
            Assert.Null(log.WriteFailureSummary);
        }

        var line = Assert.Single(File.ReadAllLines(path));
        Assert.EndsWith("info: " + new string('m', ActivityLog.MaxMessageChars) + "…", line, StringComparison.Ordinal);
    }
}
