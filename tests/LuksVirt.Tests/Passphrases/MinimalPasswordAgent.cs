using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace LuksVirt.Tests.Passphrases;

/// <summary>One pending request as an agent reads it: the ask file's path and its [Ask] fields.</summary>
public sealed record AskFile(string Path, IReadOnlyDictionary<string, string> Fields)
{
    public string Message => Fields["Message"];

    public string Socket => Fields["Socket"];
}

/// <summary>
/// A password agent written for the tests from the documented protocol alone
/// (https://systemd.io/PASSWORD_AGENTS/), as an independent witness of LuksVirt's requests: it
/// watches the directory with inotify for ask.* files, reads their [Ask] section, skips a request
/// whose PID is gone or whose NotAfter (CLOCK_MONOTONIC, µs) has passed, and answers over the
/// AF_UNIX datagram socket the file names: "+" and the passphrase (ended by a NUL, as systemd's
/// agents send it), or "-" to decline.
/// </summary>
public sealed class MinimalPasswordAgent(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>The requests pending now.</summary>
    public IReadOnlyList<AskFile> Pending() =>
        [.. System.IO.Directory.EnumerateFiles(Directory, "ask.*").Select(Read).OfType<AskFile>().Where(IsCurrent)];

    /// <summary>Waits until a pending request's message contains <paramref name="messagePart"/>;
    /// a generous limit guards a test that would otherwise hang, it is never a measured timing.</summary>
    public async Task<AskFile> WaitForRequestAsync(string messagePart)
    {
        using var arrived = new SemaphoreSlim(0);
        using var watcher = new FileSystemWatcher(Directory, "ask.*") { NotifyFilter = NotifyFilters.FileName };
        watcher.Created += (_, _) => arrived.Release();
        watcher.Renamed += (_, _) => arrived.Release();
        watcher.EnableRaisingEvents = true;
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (true)
        {
            if (Pending().FirstOrDefault(r => r.Message.Contains(messagePart, StringComparison.Ordinal)) is { } request)
            {
                return request;
            }

            try
            {
                await arrived.WaitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no request asking \"{messagePart}\" appeared in {Directory}; pending: {string.Join(" | ", Pending().Select(r => r.Message))}");
            }
        }
    }

    public static void Answer(AskFile request, ReadOnlySpan<byte> passphrase)
    {
        ArgumentNullException.ThrowIfNull(request);
        Send(request.Socket, [(byte)'+', .. passphrase, 0]);
    }

    public static void Decline(AskFile request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Send(request.Socket, "-"u8);
    }

    public static void Send(string socketPath, ReadOnlySpan<byte> datagram)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.SendTo(datagram, new UnixDomainSocketEndPoint(socketPath));
    }

    /// <summary>The [Ask] section of an ask file, or null when it vanished meanwhile (withdrawn or answered).</summary>
    private static AskFile? Read(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var inAsk = false;
        foreach (var line in lines)
        {
            if (line.StartsWith('['))
            {
                inAsk = line == "[Ask]";
            }
            else if (inAsk && line.IndexOf('=', StringComparison.Ordinal) is > 0 and var equals)
            {
                fields[line[..equals]] = line[(equals + 1)..];
            }
        }

        return fields.ContainsKey("Socket") && fields.ContainsKey("Message") ? new AskFile(path, fields) : null;
    }

    private static bool IsCurrent(AskFile request)
    {
        var pid = int.Parse(request.Fields["PID"], CultureInfo.InvariantCulture);
        var notAfter = long.Parse(request.Fields.GetValueOrDefault("NotAfter", "0"), CultureInfo.InvariantCulture);
        // Stopwatch reads CLOCK_MONOTONIC on Linux, the clock NotAfter is given in.
        var nowMicroseconds = (long)(Stopwatch.GetTimestamp() * (1_000_000.0 / Stopwatch.Frequency));
        return System.IO.Directory.Exists($"/proc/{pid}") && (notAfter == 0 || notAfter > nowMicroseconds);
    }
}
