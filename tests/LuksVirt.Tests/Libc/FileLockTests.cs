using LuksVirt.Interop.Libc;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Libc;

public sealed class FileLockTests : IDisposable
{
    private readonly TempDirectory _dir = new("lock");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Acquire_times_out_while_another_process_holds_the_lock_and_succeeds_after_it_ends()
    {
        var path = _dir.PathOf("unlock.lock");
        using var holder = FlockHolder.Start(path);

        var e = Assert.Throws<TimeoutException>(() => FileLock.Acquire(path, TimeSpan.FromMilliseconds(400)));

        Assert.Contains($"another luksvirt run holds {path}", e.Message, StringComparison.Ordinal);
        Assert.Contains("wait for it to finish", e.Message, StringComparison.Ordinal);

        holder.Release();
        using var acquired = FileLock.Acquire(path, TimeSpan.FromSeconds(5));
        Assert.Equal(path, acquired.Path);
    }

    [Fact]
    public void Acquire_waits_for_a_holder_that_finishes_within_the_timeout()
    {
        var path = _dir.PathOf("wait.lock");
        using var holder = FlockHolder.Start(path);
        var waited = 0;

        // The holder lets go only once the waiter has said it waits: the lock is taken after that, not before.
        using var acquired = FileLock.Acquire(path, TimeSpan.FromMinutes(1), _ =>
        {
            waited++;
            holder.Release();
        }, CancellationToken.None);

        Assert.Equal(1, waited);
        Assert.Equal(path, acquired.Path);
    }

    [Fact]
    public void Dispose_releases_the_lock_for_another_process()
    {
        var path = _dir.PathOf("release.lock");
        using (FileLock.Acquire(path, TimeSpan.Zero))
        {
            Assert.Equal(1, ToolRunner.Run("flock", "--nonblock", "--conflict-exit-code", "1", path, "true").ExitCode);
        }

        Assert.Equal(0, ToolRunner.Run("flock", "--nonblock", "--conflict-exit-code", "1", path, "true").ExitCode);
    }

    [Fact]
    public void Acquire_honours_cancellation_while_waiting()
    {
        var path = _dir.PathOf("cancel.lock");
        using var holder = FlockHolder.Start(path);
        using var cancellation = new CancellationTokenSource();

        // Cancelled once the wait has begun; the holder never lets go, so only the cancellation
        // can end this wait (the minute is a guard against a hang, not a measure).
        var e = Assert.ThrowsAny<OperationCanceledException>(() => FileLock.Acquire(path, TimeSpan.FromMinutes(1), _ => cancellation.Cancel(), cancellation.Token));

        Assert.Equal(cancellation.Token, e.CancellationToken);
        Assert.Equal(1, ToolRunner.Run("flock", "--nonblock", "--conflict-exit-code", "1", path, "true").ExitCode);
    }

    [Fact]
    public void Acquire_creates_the_lock_file_0600_and_its_directory_0700()
    {
        var directory = _dir.PathOf("run-luksvirt");
        var path = Path.Combine(directory, "luksvirt.lock");

        using var acquired = FileLock.Acquire(path, TimeSpan.Zero);

        Assert.Equal("700 directory", Stat(directory));
        Assert.Equal("600 regular empty file", Stat(path));
    }

    [Fact]
    public void Acquire_never_follows_a_symlink_at_the_lock_path()
    {
        var target = _dir.PathOf("elsewhere");
        var path = _dir.PathOf("planted.lock");
        File.CreateSymbolicLink(path, target);

        Assert.Throws<SymbolicLinkRefusedException>(() => FileLock.Acquire(path, TimeSpan.Zero));

        Assert.False(File.Exists(target));
    }

    [Fact]
    public void A_wait_is_announced_once_at_once_naming_the_holders_pid_and_command()
    {
        var path = _dir.PathOf("announce.lock");
        using var holder = FlockHolder.Start(path);
        var announced = new List<LockHolder?>();

        Assert.Throws<TimeoutException>(() => FileLock.Acquire(path, TimeSpan.FromMilliseconds(600), announced.Add, CancellationToken.None));

        var named = Assert.Single(announced);
        Assert.NotNull(named);
        Assert.Equal(holder.Pid, named.Pid);
        var command = $"flock {path} sh -c echo locked; exec cat";
        Assert.Equal(command.Length <= LockHolder.MaxCommandChars ? command : command[..LockHolder.MaxCommandChars] + "…", named.Command);
    }

    [Fact]
    public void The_timeout_names_the_holder()
    {
        var path = _dir.PathOf("named.lock");
        using var holder = FlockHolder.Start(path);

        var e = Assert.Throws<TimeoutException>(() => FileLock.Acquire(path, TimeSpan.FromMilliseconds(100)));

        Assert.StartsWith($"another luksvirt run holds {path} (PID {holder.Pid} (flock /var/tmp/", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_announcement_when_the_lock_is_free()
    {
        var announced = 0;

        using var acquired = FileLock.Acquire(_dir.PathOf("free.lock"), TimeSpan.Zero, _ => announced++, CancellationToken.None);

        Assert.Equal(0, announced);
    }

    private static string Stat(string path) =>
        ToolRunner.Run("stat", "-c", "%a %F", path).EnsureSuccess("stat").StandardOutput.Trim();
}
