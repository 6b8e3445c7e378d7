using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;
using LuksVirt.Core.Keys;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.KeySources.Passphrase;

/// <summary>
/// A passphrase typed at the terminal (<c>unlock --ask</c>): asked on the controlling terminal
/// with echo off, read byte by byte into locked memory (never a string), and presented as one
/// key for every disk still locked, so one passphrase opens all the disks it fits. When the
/// engine asks again (guests still wait), the passphrase opened nothing more: it asks again, up
/// to <see cref="MaxAttempts"/> times.
/// </summary>
public sealed class TerminalPassphraseSource : IKeySource
{
    public const int MaxAttempts = 3;

    /// <summary>The longest passphrase read; a longer line is refused (it is not a passphrase).</summary>
    public const int MaxPassphraseBytes = 1024;

    public const string Holder = "passphrase";

    private const string TerminalPath = "/dev/tty";

    public string Description => "a passphrase typed at the terminal";

    public async IAsyncEnumerable<IKeyPresentation> PresentAsync(KeySourceContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        SafeFileHandle terminal;
        try
        {
            terminal = File.OpenHandle(TerminalPath, FileMode.Open, FileAccess.ReadWrite);
        }
        catch (IOException e)
        {
            throw new NoTerminalException($"--ask needs a terminal to ask on ({e.Message}): run it from a console or over ssh -t, or present key files", e);
        }

        // Unbuffered: no copy of a typed byte stays in a stream's buffer. Reads wait in poll, so
        // that Ctrl-C at the prompt ends the run instead of waiting for Enter.
        using var stream = new FileStream(terminal, FileAccess.ReadWrite, bufferSize: 0);
        using var reader = new InterruptibleReader(terminal, TerminalPath);
        using (terminal)
        {
            var waiting = context.Containers.SelectMany(c => c.Guests).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            for (var attempt = 1; attempt <= MaxAttempts; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var prompt = attempt == 1
                    ? $"Passphrase for {(waiting.Count == 0 ? "the locked disks" : string.Join(", ", waiting))}: "
                    : $"That passphrase opened nothing more. Passphrase (attempt {attempt} of {MaxAttempts}): ";
                if (ReadPassphrase(terminal, stream, reader, prompt, cancellationToken) is not { } passphrase)
                {
                    continue;
                }

                yield return new TypedPassphrase(passphrase, attempt);
                await Task.Yield();
            }

            Write(stream, $"No more attempts ({MaxAttempts}).\n");
        }
    }

    /// <summary>One line typed with echo off, or null (said on the terminal) for an empty line or
    /// a passphrase that cannot serve QEMU's native LUKS driver (not UTF-8, or with a NUL).
    /// Cancellation (Ctrl-C) throws <see cref="OperationCanceledException"/> with echo restored.</summary>
    private static SecretBuffer? ReadPassphrase(SafeFileHandle terminal, FileStream stream, InterruptibleReader reader, string prompt, CancellationToken cancellationToken)
    {
        using var line = SecretBuffer.Allocate(MaxPassphraseBytes + 1);
        var length = 0;
        // Echo goes off before the prompt shows: nothing typed after the prompt is ever echoed
        // (and typeahead from before it is discarded, as getpass does).
        using (TerminalEcho.Off(terminal))
        {
            Write(stream, prompt);
            Span<byte> one = stackalloc byte[1];
            while (true)
            {
                if (reader.Read(one, cancellationToken) == 0 || one[0] == (byte)'\n')
                {
                    break;
                }

                if (length == MaxPassphraseBytes)
                {
                    // Read the rest of the line away, keep nothing of it.
                    continue;
                }

                line.WritableSpan[length++] = one[0];
            }

            one.Clear();
        }

        var typed = line.Span[..length];
        var problem = length == 0 ? "empty passphrase"
            : length == MaxPassphraseBytes ? $"longer than {MaxPassphraseBytes} bytes"
            : !Utf8.IsValid(typed) || typed.Contains((byte)0) ? "not UTF-8 text (or it holds a NUL): QEMU's LUKS driver cannot take it, so it is not used"
            : null;
        if (problem is not null)
        {
            Write(stream, $"Refused: {problem}.\n");
            return null;
        }

        return SecretBuffer.CopyOf(typed);
    }

    private static void Write(FileStream terminal, string text)
    {
        terminal.Write(Encoding.UTF8.GetBytes(text));
        terminal.Flush();
    }

    /// <summary>One typed passphrase as a batch: nothing on the host to wipe.</summary>
    private sealed class TypedPassphrase(SecretBuffer passphrase, int attempt) : IKeyPresentation
    {
        public KeySet Keys { get; } = new([new PresentedKey(Holder, slotHint: null, $"terminal (attempt {attempt})", passphrase)]);

        public KeysReport Report => new(1, [], [], Deleted: false);

        public bool LeftRefusedKeyFiles => false;

        public void WipeSource()
        {
        }

        public void Dispose() => Keys.Dispose();
    }
}
