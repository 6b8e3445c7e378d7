using System.Diagnostics;

namespace LuksVirt.Tests.Infrastructure;

/// <summary>util-linux flock(1) holding an exclusive flock in another process until its standard
/// input closes: a lock holder with a known PID and command.</summary>
public sealed class FlockHolder : IDisposable
{
    private readonly Process _process;

    private FlockHolder(Process process) => _process = process;

    /// <summary>The flock(1) process, the one /proc/locks names as the holder.</summary>
    public int Pid => _process.Id;

    /// <summary>Returns once the lock is taken; waits up to <paramref name="wait"/> (default 3
    /// minutes: the run lock may be held by another test's run).</summary>
    public static FlockHolder Start(string path, TimeSpan? wait = null)
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
        if (!line.Wait(wait ?? TimeSpan.FromMinutes(3)) || line.Result != "locked")
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
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
