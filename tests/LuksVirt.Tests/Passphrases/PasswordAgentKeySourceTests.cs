using System.Globalization;
using LuksVirt.Core.KeySources;
using LuksVirt.Core.KeySources.Passphrase;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Passphrases;

/// <summary>
/// <see cref="PasswordAgentKeySource"/> in a private request directory, answered by
/// <see cref="MinimalPasswordAgent"/> (written from the documented protocol): what the request
/// says, what is presented, asking again, refusals, declining, withdrawal, and that only root's
/// reply counts.
/// </summary>
public sealed class PasswordAgentKeySourceTests : IDisposable
{
    private const string Right = "correct horse battery staple";
    private const string Wrong = "not the passphrase";

    private readonly TempDirectory _dir = new("ask");
    private readonly MinimalPasswordAgent _agent;
    private readonly string _db = "db-" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _web = "web-" + Guid.NewGuid().ToString("N")[..8];
    private readonly CancellationTokenSource _limit = new(TimeSpan.FromMinutes(2));

    public PasswordAgentKeySourceTests() => _agent = new MinimalPasswordAgent(_dir.Path);

    public void Dispose()
    {
        _limit.Dispose();
        _dir.Dispose();
    }

    private KeySourceContext Context => new(() =>
    [
        new ContainerInScope("/srv/db.luks", [_db]),
        new ContainerInScope("/srv/web.luks", [_web, _db]),
    ]);

    private string Question => $"LuksVirt: passphrase for guests {_db}, {_web}";

    private IAsyncEnumerator<IKeyPresentation> Present(int maxAttempts, CancellationToken cancellationToken) =>
        new PasswordAgentKeySource(maxAttempts, _dir.Path).PresentAsync(Context, cancellationToken).GetAsyncEnumerator(cancellationToken);

    [Fact]
    public async Task A_request_as_the_protocol_describes_it_is_answered_and_presented_as_one_key()
    {
        await using var batches = Present(3, _limit.Token);
        var next = batches.MoveNextAsync().AsTask();
        var request = await _agent.WaitForRequestAsync(Question + ":");

        Assert.Equal(Question + ":", request.Message);
        Assert.Equal(Environment.ProcessId.ToString(CultureInfo.InvariantCulture), request.Fields["PID"]);
        Assert.Equal("0", request.Fields["Echo"]);
        Assert.Equal("0", request.Fields["AcceptCached"]);
        Assert.Equal("0", request.Fields["NotAfter"]);
        Assert.Equal("luksvirt:unlock", request.Fields["Id"]);
        Assert.Equal("drive-harddisk", request.Fields["Icon"]);
        Assert.Equal(_dir.Path, Path.GetDirectoryName(request.Socket));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(request.Socket));
        Assert.Empty(Directory.GetFiles(_dir.Path, "tmp.*"));

        MinimalPasswordAgent.Answer(request, TerminalSession.Typed(Right));
        Assert.True(await next);
        using var batch = batches.Current;

        var key = Assert.Single(batch.Keys);
        Assert.Equal(TerminalPassphraseSource.Holder, key.Holder);
        Assert.Null(key.SlotHint);
        Assert.Null(key.ForContainer);
        Assert.Equal("password agent (attempt 1)", key.Source);
        Assert.Equal(TerminalSession.Typed(Right), key.Secret.Span.ToArray());
        Assert.Equal(1, batch.Report.Presented);
        Assert.False(batch.LeftRefusedKeyFiles);
        // Answered: the request is withdrawn before the key is even tried.
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public async Task A_wrong_passphrase_is_asked_again_up_to_the_limit_and_then_the_source_ends()
    {
        await using var batches = Present(2, _limit.Token);
        var next = batches.MoveNextAsync().AsTask();
        MinimalPasswordAgent.Answer(await _agent.WaitForRequestAsync(Question + ":"), TerminalSession.Typed(Wrong));
        Assert.True(await next);
        batches.Current.Dispose();

        // The engine asks again: the passphrase opened nothing more.
        next = batches.MoveNextAsync().AsTask();
        var again = await _agent.WaitForRequestAsync("(attempt 2 of 2)");
        Assert.Equal($"That passphrase opened nothing more. {Question} (attempt 2 of 2):", again.Message);
        MinimalPasswordAgent.Answer(again, TerminalSession.Typed(Right));
        Assert.True(await next);
        using (var batch = batches.Current)
        {
            Assert.Equal("password agent (attempt 2)", Assert.Single(batch.Keys).Source);
        }

        Assert.False(await batches.MoveNextAsync());
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Theory]
    [InlineData(new byte[] { 0xff, 0xfe, (byte)'A' }, "That passphrase is not UTF-8 text (or it holds a NUL), which QEMU's LUKS driver cannot take")]
    [InlineData(new byte[0], "That passphrase was empty")]
    public async Task A_passphrase_that_cannot_serve_is_refused_with_the_reason_and_asked_again(byte[] answer, string reason)
    {
        await using var batches = Present(3, _limit.Token);
        var next = batches.MoveNextAsync().AsTask();
        MinimalPasswordAgent.Answer(await _agent.WaitForRequestAsync(Question + ":"), answer);
        Assert.True(await next);
        using (var refused = batches.Current)
        {
            Assert.Empty(refused.Keys);
            var rejected = Assert.Single(refused.Report.Rejected);
            Assert.Equal("password agent (attempt 1)", rejected.Name);
            Assert.StartsWith(reason, rejected.Reason, StringComparison.Ordinal);
        }

        next = batches.MoveNextAsync().AsTask();
        var again = await _agent.WaitForRequestAsync("(attempt 2 of 3)");
        Assert.StartsWith(reason, again.Message, StringComparison.Ordinal);
        MinimalPasswordAgent.Answer(again, TerminalSession.Typed(Right));
        Assert.True(await next);
        using var batch = batches.Current;
        Assert.Equal(TerminalSession.Typed(Right), Assert.Single(batch.Keys).Secret.Span.ToArray());
    }

    [Fact]
    public async Task Declining_at_the_agent_ends_the_asking_and_withdraws_the_request()
    {
        await using var batches = Present(3, _limit.Token);
        var next = batches.MoveNextAsync().AsTask();
        MinimalPasswordAgent.Decline(await _agent.WaitForRequestAsync(Question));

        var declined = await Assert.ThrowsAsync<PasswordRequestDeclinedException>(() => next);
        Assert.Contains("declined", declined.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public async Task Cancelling_the_enumeration_withdraws_the_request_and_an_agent_finds_nothing()
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_limit.Token);
        var batches = Present(3, stop.Token);
        var next = batches.MoveNextAsync().AsTask();
        var request = await _agent.WaitForRequestAsync(Question);

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next);
        await batches.DisposeAsync();

        Assert.False(File.Exists(request.Path));
        Assert.False(File.Exists(request.Socket));
        Assert.Empty(_agent.Pending());
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public async Task A_reply_from_a_user_other_than_root_is_ignored()
    {
        using var request = AskPasswordRequest.Post("LuksVirt test: uid check", "luksvirt:test", _dir.Path);
        // Let anyone reach the socket, so that only the uid check can stop nobody's reply.
        File.SetUnixFileMode(request.SocketPath, (UnixFileMode)0b110_110_110);
        const string Perl = "use Socket; socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die; send($s, \"+evil\\0\", 0, pack_sockaddr_un($ARGV[0])) or die \"send: $!\";";
        ToolRunner.Run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "perl", "-e", Perl, request.SocketPath]).EnsureSuccess("perl as nobody");
        MinimalPasswordAgent.Send(request.SocketPath, "+good\0"u8);

        using var reply = await request.WaitForReplyAsync(_limit.Token);

        Assert.Equal("good"u8.ToArray(), reply!.Span.ToArray());
        Assert.Equal(1, request.IgnoredReplies);
    }

    [Fact]
    public async Task The_passphrase_is_in_no_file_under_the_request_directory()
    {
        using var typed = new TestKey("passphrase", SecretBuffer.CopyOf(TerminalSession.Typed(Right)));
        var scanner = new KeyLeakScanner([typed]);
        await using var batches = Present(3, _limit.Token);
        var next = batches.MoveNextAsync().AsTask();
        MinimalPasswordAgent.Answer(await _agent.WaitForRequestAsync(Question), typed.Secret.Span);
        Assert.True(await next);
        var whileHeld = scanner.ScanFiles([_dir.Path], new HashSet<string>());
        batches.Current.Dispose();

        Assert.Empty(whileHeld);
        Assert.Empty(scanner.ScanFiles([_dir.Path], new HashSet<string>()));
    }
}
