using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LuksVirt.Tests.Tang;

/// <summary>
/// A loopback HTTP endpoint that is not a Tang server: it answers every request with the same
/// bytes (garbage, a redirect, an oversized body), or, with none given, accepts connections and
/// never answers. For the client's refusals.
/// </summary>
public sealed class CannedHttpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly byte[]? _response;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _held = [];
    private readonly Task _accepting;

    public CannedHttpServer(byte[]? response)
    {
        _response = response;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public static CannedHttpServer Answering(int status, string reason, string body, string extraHeaders = "")
    {
        var bodyBytes = Encoding.UTF8.GetBytes(body);
        var head = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Length: {bodyBytes.Length}\r\nConnection: close\r\n{extraHeaders}\r\n");
        return new CannedHttpServer([.. head, .. bodyBytes]);
    }

    public static CannedHttpServer NeverAnswering() => new(null);

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            _accepting.Wait();
        }
        catch (AggregateException)
        {
            // The listener was stopped under the pending accept: that is how it ends.
        }

        lock (_held)
        {
            _held.ForEach(client => client.Dispose());
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (_response is null)
            {
                lock (_held)
                {
                    _held.Add(client);
                }

                continue;
            }

            _ = AnswerAsync(client);
        }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var request = new byte[8192];
                var read = 0;
                // Read the request head (and a small body) before answering, as a server would.
                while (read < request.Length && !Encoding.ASCII.GetString(request, 0, read).Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var count = await stream.ReadAsync(request.AsMemory(read), _stop.Token);
                    if (count == 0)
                    {
                        return;
                    }

                    read += count;
                }

                await stream.WriteAsync(_response, _stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
            {
                // The client gave up (a refusal under test): nothing to answer.
            }
        }
    }
}
