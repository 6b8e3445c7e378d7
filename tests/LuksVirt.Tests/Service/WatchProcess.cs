using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Service;

/// <summary>
/// <c>luksvirt watch</c> running in the background as a separate process, started the way
/// systemd starts a Type=notify service: NOTIFY_SOCKET names a datagram socket this object
/// listens on, so readiness is the service's own READY=1, not a sleep. Its log lines (stderr)
/// are collected as they come; waits end on a matching line or a timeout. Dispose kills it.
/// </summary>
public sealed class WatchProcess : IDisposable
{
    private readonly Process _process;
    private readonly Socket _notify;
    private readonly List<string> _lines = [];
    private readonly object _gate = new();
    private TaskCompletionSource _lineAdded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WatchProcess(Process process, Socket notify)
    {
        _process = process;
        _notify = notify;
    }

    /// <param name="abstractNotifySocket">Name the notification socket in the abstract namespace
    /// ("@name") instead of by a path: systemd uses either.</param>
    /// <param name="journalStream">Set JOURNAL_STREAM as systemd does when stderr is the journal.</param>
    public static WatchProcess Start(TempDirectory directory, IEnumerable<string> arguments, bool abstractNotifySocket = false, bool journalStream = false)
    {
        var abstractName = $"luksvirt-test-notify-{Guid.NewGuid():N}";
        var socketPath = abstractNotifySocket ? "@" + abstractName : directory.PathOf("notify.sock");
        var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(abstractNotifySocket ? "\0" + abstractName : socketPath));

        var (file, prefix) = LuksVirtCli.Command();
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in prefix.Concat(["watch", .. arguments]))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["NOTIFY_SOCKET"] = socketPath;
        start.Environment.Remove("JOURNAL_STREAM");
        if (journalStream)
        {
            start.Environment["JOURNAL_STREAM"] = "8:12345";
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var watch = new WatchProcess(process, notify);
        process.ErrorDataReceived += (_, e) => watch.Add(e.Data);
        process.OutputDataReceived += (_, e) => watch.Add(e.Data);
        process.Exited += (_, _) => watch.Signal();
        try
        {
            process.Start();
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            return watch;
        }
        catch
        {
            watch.Dispose();
            throw;
        }
    }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Log lines so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    public string Log => string.Join('\n', Lines);

    /// <summary>Waits for the service's sd_notify READY=1.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var received = await _notify.ReceiveAsync(buffer, SocketFlags.None, cancellation.Token);
                if (Encoding.UTF8.GetString(buffer, 0, received).Split('\n').Contains("READY=1"))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"luksvirt watch sent no READY=1 within {timeout}; exited: {HasExited}; log:\n{Log}");
        }
    }

    /// <summary>Waits for a log line at index <paramref name="from"/> or later that satisfies
    /// <paramref name="match"/>; returns its index.</summary>
    public async Task<int> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, int from = 0)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (TryFind(match, from, out var index, out var added))
            {
                return index;
            }

            if (_process.HasExited)
            {
                // Drains the output readers, then one last look.
                _process.WaitForExit();
                return TryFind(match, from, out index, out _)
                    ? index
                    : throw new InvalidOperationException($"luksvirt watch exited ({_process.ExitCode}) before the awaited log line; log:\n{Log}");
            }

            var remaining = timeout - clock.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"no awaited log line from luksvirt watch within {timeout}; log:\n{Log}");
            }

            await Task.WhenAny(added, Task.Delay(remaining));
        }
    }

    public Task<int> WaitForLineAsync(string contains, TimeSpan timeout, int from = 0) =>
        WaitForLineAsync(line => line.Contains(contains, StringComparison.Ordinal), timeout, from);

    /// <summary>Waits until each guest is in <paramref name="state"/> (libvirt's events, not
    /// polling); on time-out the failure carries this watch's own log.</summary>
    public async Task WaitForGuestsAsync(LibvirtdFixture libvirtd, DomainState state, TimeSpan timeout, params TestGuest[] guests)
    {
        ArgumentNullException.ThrowIfNull(libvirtd);
        using var connection = libvirtd.Open();
        foreach (var guest in guests)
        {
            using var domain = connection.LookupDomainByName(guest.Name);
            try
            {
                await connection.WaitForDomainStateAsync(domain, state, timeout);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{e.Message}\nluksvirt watch said:\n{Log}", e);
            }
        }
    }

    /// <summary>SIGTERM, as systemctl stop sends; returns the exit code.</summary>
    public int Terminate(TimeSpan timeout)
    {
        ToolRunner.Run("kill", "-TERM", ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)).EnsureSuccess("kill -TERM");
        if (!_process.WaitForExit(timeout))
        {
            throw new TimeoutException($"luksvirt watch did not stop within {timeout} of SIGTERM; log:\n{Log}");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }

        _process.Dispose();
        _notify.Dispose();
    }

    private bool TryFind(Func<string, bool> match, int from, out int index, out Task added)
    {
        lock (_gate)
        {
            added = _lineAdded.Task;
            for (index = from; index < _lines.Count; index++)
            {
                if (match(_lines[index]))
                {
                    return true;
                }
            }

            return false;
        }
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _lines.Add(line);
        }

        Signal();
    }

    private void Signal()
    {
        TaskCompletionSource previous;
        lock (_gate)
        {
            previous = _lineAdded;
            _lineAdded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }
}
