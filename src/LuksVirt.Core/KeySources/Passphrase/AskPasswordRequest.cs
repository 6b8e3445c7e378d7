using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.KeySources.Passphrase;

/// <summary>
/// One request through systemd's password-agent protocol (https://systemd.io/PASSWORD_AGENTS/),
/// posted as <c>systemd-ask-password</c> posts it: a private AF_UNIX datagram socket
/// <c>sck.*</c> with SO_PASSCRED, and an <c>ask.*</c> ini file written under a temporary name and
/// renamed into the directory (agents watch for IN_MOVED_TO), naming the socket. An agent
/// (<c>systemd-tty-ask-password-agent</c>, Plymouth, the console) answers <c>+passphrase</c> or
/// <c>-</c>; a reply from any uid but root is ignored. Dispose withdraws the request: the ask
/// file goes (agents stop asking) and the socket is closed and removed.
/// </summary>
internal sealed class AskPasswordRequest : IDisposable
{
    /// <summary>Where systemd's agents look.</summary>
    public const string SystemDirectory = "/run/systemd/ask-password";

    private const uint RootUserId = 0;

    // The socket is root's alone (agents run as root); the ask file is readable by all, as
    // systemd writes it: it holds the question, never the answer.
    private const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode AskFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private readonly CredentialedDatagramSocket _socket;
    private int _ignoredReplies;
    private int _withdrawn;

    private AskPasswordRequest(CredentialedDatagramSocket socket, string askFilePath)
    {
        _socket = socket;
        AskFilePath = askFilePath;
    }

    public string AskFilePath { get; }

    public string SocketPath => _socket.Path;

    /// <summary>Replies dropped because their sender was not root, or because they were neither
    /// <c>+...</c> nor <c>-</c>.</summary>
    public int IgnoredReplies => Volatile.Read(ref _ignoredReplies);

    /// <summary>
    /// Posts a request. <paramref name="message"/> is the line agents show (control characters
    /// become spaces); <paramref name="id"/> tells agents what is asked for ("luksvirt:..."), as
    /// systemd-cryptsetup's "cryptsetup:/dev/sda2". There is no deadline (NotAfter=0): the request
    /// stands until an agent answers or it is withdrawn.
    /// </summary>
    public static AskPasswordRequest Post(string message, string id, string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(message);
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory, DirectoryMode);
        var suffix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var socket = CredentialedDatagramSocket.Bind(Path.Combine(directory, "sck." + suffix), SocketMode);
        try
        {
            var content = string.Create(CultureInfo.InvariantCulture, $"""
                [Ask]
                PID={Environment.ProcessId}
                Socket={socket.Path}
                AcceptCached=0
                Echo=0
                NotAfter=0
                Message={SingleLine(message)}
                Icon=drive-harddisk
                Id={SingleLine(id)}

                """);
            var temporary = "tmp." + suffix;
            var final = "ask." + suffix;
            PosixFile.CreateExclusive(Path.Combine(directory, temporary), Encoding.UTF8.GetBytes(content), AskFileMode);
            try
            {
                using var handle = PosixFile.OpenDirectoryNoFollow(directory);
                PosixLink.RenameAt(handle, temporary, final);
            }
            catch
            {
                File.Delete(Path.Combine(directory, temporary));
                throw;
            }

            return new AskPasswordRequest(socket, Path.Combine(directory, final));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Waits for an agent's answer: the passphrase (the caller owns it), or null when the agent
    /// answered <c>-</c> (the person declined). Cancellation throws
    /// <see cref="OperationCanceledException"/>; the request stays posted until disposed.
    /// </summary>
    public async Task<SecretBuffer?> WaitForReplyAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await _socket.WaitForDatagramAsync(cancellationToken).ConfigureAwait(false);
            using var datagram = _socket.ReceiveSecret(out var sender);
            if (datagram is null)
            {
                continue;
            }

            if (sender != RootUserId || datagram.Length == 0)
            {
                Interlocked.Increment(ref _ignoredReplies);
                continue;
            }

            switch (datagram.Span[0])
            {
                case (byte)'+':
                    // Agents end the passphrase with a NUL (and separate several with NULs): the first is the answer.
                    var payload = datagram.Span[1..];
                    var end = payload.IndexOf((byte)0);
                    return SecretBuffer.CopyOf(end >= 0 ? payload[..end] : payload);
                case (byte)'-':
                    return null;
                default:
                    Interlocked.Increment(ref _ignoredReplies);
                    continue;
            }
        }
    }

    /// <summary>Withdraws the request: removes the ask file, then closes and removes the socket.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _withdrawn, 1) != 0)
        {
            return;
        }

        try
        {
            File.Delete(AskFilePath);
        }
        finally
        {
            _socket.Dispose();
        }
    }

    private static string SingleLine(string text) => string.Concat(text.Select(c => char.IsControl(c) ? ' ' : c));
}
