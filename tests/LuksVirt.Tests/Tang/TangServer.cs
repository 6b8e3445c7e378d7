using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Tang;

/// <summary>
/// A real Tang server from Debian's tang package: keys made by tangd-keygen (named "sig" and
/// "exc" so the tests know which is which), tangd served the way systemd's tangd.socket does it
/// (one tangd per connection, HTTP on its standard input and output), here by socat on a free
/// loopback port. Killed, with its connection children, on dispose. A missing package is a
/// failure that names scripts/setup.sh, never a skip.
/// </summary>
public sealed class TangServer : IDisposable
{
    public const string Tangd = "/usr/libexec/tangd";
    public const string TangdKeygen = "/usr/libexec/tangd-keygen";
    private const int Attempts = 5;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly TempDirectory _directory = new("tang");
    private readonly StringBuilder _log = new();
    private readonly bool _tls;
    private Process? _socat;

    public TangServer()
        : this(tls: false)
    {
    }

    private TangServer(bool tls)
    {
        _tls = tls;
        foreach (var tool in new[] { Tangd, TangdKeygen, "/usr/bin/socat", "/usr/bin/jose", "/usr/bin/clevis" })
        {
            if (!File.Exists(tool))
            {
                throw new InvalidOperationException($"{tool} is missing: run scripts/setup.sh (packages tang, clevis, clevis-luks, jose, luksmeta, socat)");
            }
        }

        KeyDirectory = _directory.PathOf("db");
        Directory.CreateDirectory(KeyDirectory);
        ToolRunner.Run(TangdKeygen, KeyDirectory, "sig", "exc").EnsureSuccess("tangd-keygen");
        SigningKeyThumbprint = Thumbprint("sig");
        ExchangeKeyThumbprint = Thumbprint("exc");
        if (tls)
        {
            // A certificate no system trusts: for the client's refusal of it.
            ToolRunner.Run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                "-keyout", _directory.PathOf("tls.key"), "-out", _directory.PathOf("tls.crt")).EnsureSuccess("openssl req");
        }

        Start();
    }

    /// <summary>The same server behind TLS with a self-signed certificate.</summary>
    public static TangServer WithSelfSignedTls() => new(tls: true);

    public string KeyDirectory { get; }

    public int Port { get; private set; }

    public string Url => $"{(_tls ? "https" : "http")}://127.0.0.1:{Port}";

    /// <summary>The SHA-256 thumbprint of the signing key, computed by jose (the witness).</summary>
    public string SigningKeyThumbprint { get; }

    public string ExchangeKeyThumbprint { get; }

    /// <summary>socat's own log of the connections, for failure messages.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>The advertisement as curl fetches it (an independent client; it accepts the
    /// self-signed certificate of <see cref="WithSelfSignedTls"/>).</summary>
    public string FetchAdvertisementWithCurl() =>
        ToolRunner.Run("curl", "-sfk", $"{Url}/adv").EnsureSuccess("curl /adv").StandardOutput;

    /// <summary>Stops serving: the port then refuses connections.</summary>
    public void Stop()
    {
        if (_socat is { } socat)
        {
            _socat = null;
            socat.Kill(entireProcessTree: true);
            socat.WaitForExit();
            socat.Dispose();
        }
    }

    /// <summary>Serves again on the same port after <see cref="Stop"/>: a server that comes up
    /// after its clients.</summary>
    public void Restart()
    {
        if (_socat is null && !TryStart())
        {
            throw new InvalidOperationException($"socat did not serve tangd again on port {Port}:\n{Log}");
        }
    }

    public void Dispose()
    {
        Stop();
        _directory.Dispose();
    }

    /// <summary>A loopback port nothing listens on at the moment of asking.</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private string Thumbprint(string name) =>
        ToolRunner.Run("jose", "jwk", "thp", "-i", Path.Combine(KeyDirectory, name + ".jwk"), "-a", "S256").EnsureSuccess("jose jwk thp").StandardOutput.Trim();

    private void Start()
    {
        // Another process may take the free port between the probe and socat's bind; then socat
        // exits and the next port is tried.
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            Port = FreePort();
            if (TryStart())
            {
                return;
            }
        }

        throw new InvalidOperationException($"socat did not start serving tangd after {Attempts} attempts:\n{Log}");
    }

    private bool TryStart()
    {
        var start = new ProcessStartInfo("socat")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-d");
        start.ArgumentList.Add("-d");
        start.ArgumentList.Add(_tls
            ? $"OPENSSL-LISTEN:{Port},bind=127.0.0.1,reuseaddr,fork,verify=0,cert={_directory.PathOf("tls.crt")},key={_directory.PathOf("tls.key")}"
            : $"TCP-LISTEN:{Port},bind=127.0.0.1,reuseaddr,fork");
        start.ArgumentList.Add($"EXEC:{Tangd} {KeyDirectory}");

        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var socat = new Process { StartInfo = start, EnableRaisingEvents = true };
        socat.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is null)
            {
                listening.TrySetResult();
                return;
            }

            lock (_log)
            {
                _log.AppendLine(line.Data);
            }

            // socat -d -d reports "listening on AF=2 127.0.0.1:PORT" once the socket is bound.
            if (line.Data.Contains("listening on", StringComparison.Ordinal))
            {
                listening.TrySetResult();
            }
        };
        socat.Start();
        socat.BeginErrorReadLine();
        socat.BeginOutputReadLine();
        if (!listening.Task.Wait(StartTimeout) || socat.HasExited)
        {
            socat.Kill(entireProcessTree: true);
            socat.WaitForExit();
            socat.Dispose();
            return false;
        }

        _socat = socat;
        return true;
    }
}
