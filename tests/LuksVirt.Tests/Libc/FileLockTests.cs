using System.Diagnostics;
using LuksVirt.Libc;
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

        var stopwatch = Stopwatch.StartNew();
        var e = Assert.Throws<TimeoutException>(() => FileLock.Acquire(path, TimeSpan.FromMilliseconds(400)));
        stopwatch.Stop();

        Assert.Contains($"another luksvirt run holds {path}", e.Message, StringComparison.Ordinal);
        Assert.Contains("wait for it to finish", e.Message, StringComparison.Ordinal);
        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromMilliseconds(350), TimeSpan.FromSeconds(3));

        holder.Release();
        using var acquired = FileLock.Acquire(path, TimeSpan.FromSeconds(5));
        Assert.Equal(path, acquired.Path);
    }

    [Fact]
    public async Task Acquire_waits_for_a_holder_that_finishes_within_the_timeout()
    {
        var path = _dir.PathOf("wait.lock");
        var holder = FlockHolder.Start(path);
        var release = Task.Delay(300).ContinueWith(_ => holder.Dispose(), TaskScheduler.Default);

        using var acquired = FileLock.Acquire(path, TimeSpan.FromSeconds(10));

        await release;
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
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        var stopwatch = Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => FileLock.Acquire(path, TimeSpan.FromMinutes(1), cancellation.Token));

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"cancellation took {stopwatch.Elapsed}");
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

    private static string Stat(string path) =>
        ToolRunner.Run("stat", "-c", "%a %F", path).EnsureSuccess("stat").StandardOutput.Trim();

    /// <summary>util-linux flock(1) holding the lock in another process until its standard input closes.</summary>
    private sealed class FlockHolder : IDisposable
    {
        private readonly Process _process;

        private FlockHolder(Process process) => _process = process;

        public static FlockHolder Start(string path)
        {
            var start = new ProcessStartInfo("flock")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { path, "sh", "-c", "echo locked; exec cat" })
            {
                start.ArgumentList.Add(argument);
            }

            var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start flock");
            var line = process.StandardOutput.ReadLineAsync();
            if (!line.Wait(TimeSpan.FromSeconds(10)) || line.Result != "locked")
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException("flock did not take the lock");
            }

            return new FlockHolder(process);
        }

        /// <summary>Closing stdin ends cat, then flock: the lock is free once it exited.</summary>
        public void Release()
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                Release();
            }

            _process.Dispose();
        }
    }
}
