using System.Runtime.CompilerServices;
using LuksVirt.Core.Keys;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.KeySources.Passphrase;

/// <summary>
/// A passphrase answered through systemd's password agents (<c>unlock --ask-agent</c>, and the
/// watch service when disks stay locked): posts one request naming the guests waiting, so that
/// <c>systemd-tty-ask-password-agent</c> on a console or over SSH, Plymouth or the boot console
/// can answer it, and presents the answer as one key for every disk still locked. When the
/// engine asks again (guests still wait), that passphrase opened nothing more: it posts again,
/// up to <see cref="MaxAttempts"/> times.
/// </summary>
/// <remarks>
/// A request stands only while this source waits for its answer: it is withdrawn (the ask file
/// removed, the socket closed) as soon as an answer arrives, and when the enumeration is
/// cancelled or disposed, which is how a caller withdraws it once the disks opened another way.
/// A passphrase QEMU's native LUKS driver cannot take (not UTF-8, or with a NUL) is not
/// presented: the batch reports it rejected with that reason, and the next request says so.
/// </remarks>
public sealed class PasswordAgentKeySource : IKeySource
{
    public const int DefaultMaxAttempts = 3;

    /// <summary>Where the keys presented say they came from.</summary>
    public const string Origin = "password agent";

    private readonly string _directory;

    /// <param name="maxAttempts">How many passphrases are asked for before the source ends.</param>
    /// <param name="directory">Where requests are posted; systemd's agents read
    /// <see cref="SystemDirectory"/> only (another directory is for tests).</param>
    public PasswordAgentKeySource(int maxAttempts = DefaultMaxAttempts, string directory = SystemDirectory)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        MaxAttempts = maxAttempts;
        _directory = directory;
    }

    /// <summary>Where systemd's agents look for requests.</summary>
    public const string SystemDirectory = AskPasswordRequest.SystemDirectory;

    public int MaxAttempts { get; }

    public string Description => "a passphrase answered through systemd's password agents";

    public async IAsyncEnumerable<IKeyPresentation> PresentAsync(KeySourceContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var waiting = context.Containers.SelectMany(c => c.Guests).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var question = $"LuksVirt: passphrase for {(waiting.Count == 0 ? "the locked disks" : "guests " + string.Join(", ", waiting))}";
        string? previousProblem = null;
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var message = attempt == 1
                ? question + ":"
                : $"{previousProblem ?? "That passphrase opened nothing more"}. {question} (attempt {attempt} of {MaxAttempts}):";
            SecretBuffer? passphrase;
            using (var request = AskPasswordRequest.Post(message, "luksvirt:unlock", _directory))
            {
                passphrase = await request.WaitForReplyAsync(cancellationToken).ConfigureAwait(false);
            }

            if (passphrase is null)
            {
                throw new PasswordRequestDeclinedException();
            }

            var origin = $"{Origin} (attempt {attempt})";
            previousProblem = ProblemWith(passphrase);
            if (previousProblem is not null)
            {
                passphrase.Dispose();
                yield return AgentPassphrase.Refused(origin, previousProblem);
                continue;
            }

            yield return AgentPassphrase.Usable(origin, passphrase);
        }
    }

    /// <summary>Why a passphrase cannot serve, or null. Native-backend keys go to QEMU's LUKS
    /// driver as libvirt secrets, which must be UTF-8 text without NUL.</summary>
    private static string? ProblemWith(SecretBuffer passphrase) =>
        passphrase.Length == 0 ? "That passphrase was empty"
        : !passphrase.IsUtf8WithoutNul ? "That passphrase is not UTF-8 text (or it holds a NUL), which QEMU's LUKS driver cannot take, so it was not used"
        : null;

    /// <summary>One answer as a batch: the passphrase, or the reason it was refused. Nothing on
    /// the host to wipe.</summary>
    private sealed class AgentPassphrase : IKeyPresentation
    {
        private AgentPassphrase(KeySet keys, KeysReport report)
        {
            Keys = keys;
            Report = report;
        }

        public KeySet Keys { get; }

        public KeysReport Report { get; }

        public bool LeftRefusedKeyFiles => false;

        public static AgentPassphrase Usable(string origin, SecretBuffer passphrase) =>
            new(new KeySet([new PresentedKey(TerminalPassphraseSource.Holder, slotHint: null, origin, passphrase)]), new KeysReport(1, [], [], Deleted: false));

        public static AgentPassphrase Refused(string origin, string reason) =>
            new(new KeySet([]), new KeysReport(0, [new RejectedKeyReport(origin, reason)], [], Deleted: false));

        public void WipeSource()
        {
        }

        public void Dispose() => Keys.Dispose();
    }
}

