using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using LuksVirt.Core.Containers;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Cli;

/// <summary>Questions to the person at the terminal: a new passphrase without echo, a confirmation.</summary>
internal static class TerminalInput
{
    /// <summary>Characters a typed passphrase may have: far beyond what anyone types (cryptsetup
    /// stops at 512), and not the 8 MiB key-file limit, which would make every prompt allocate 16 MiB.</summary>
    private const int MaxTypedCharacters = 8192;

    /// <summary>True when standard input is a terminal a person can answer on.</summary>
    public static bool IsInteractive => !Console.IsInputRedirected;

    /// <summary>
    /// A new passphrase: typed twice without echo at a terminal; otherwise the first line of
    /// standard input without its line feed (what the same passphrase typed at a terminal gives).
    /// </summary>
    public static SecretBuffer ReadNewPassphrase()
    {
        if (!IsInteractive)
        {
            using var input = Console.OpenStandardInput();
            return KeyInput.ReadLine(input);
        }

        var first = ReadHidden("New passphrase: ");
        try
        {
            using var second = ReadHidden("Repeat the passphrase: ");
            return first.ContentEquals(second)
                ? first
                : throw new ContainerRefusedException("the two passphrases differ; nothing was changed");
        }
        catch
        {
            first.Dispose();
            throw;
        }
    }

    /// <summary>Asks on standard error; true only for an answer of "yes".</summary>
    public static bool Confirm(string question)
    {
        Console.Error.Write($"{question} Type yes to continue: ");
        return string.Equals(Console.ReadLine()?.Trim(), "yes", StringComparison.OrdinalIgnoreCase);
    }

    private static SecretBuffer ReadHidden(string prompt)
    {
        Console.Error.Write(prompt);
        // Pinned, so the typed characters are not copied around by the GC; zeroed below.
        var typed = GC.AllocateArray<char>(MaxTypedCharacters, pinned: true);
        var length = 0;
        try
        {
            while (true)
            {
                var key = Console.ReadKey(intercept: true);
                if (key.Key == ConsoleKey.Enter)
                {
                    break;
                }

                if (key.Key == ConsoleKey.Backspace)
                {
                    length = Math.Max(0, length - 1);
                }
                else if (key.KeyChar != '\0' && length < typed.Length)
                {
                    typed[length++] = key.KeyChar;
                }
            }

            Console.Error.WriteLine();
            var text = typed.AsSpan(0, length);
            if (length == 0)
            {
                throw new ContainerRefusedException("the passphrase is empty; nothing was changed");
            }

            var passphrase = SecretBuffer.Allocate(Encoding.UTF8.GetByteCount(text));
            Encoding.UTF8.GetBytes(text, passphrase.WritableSpan);
            return passphrase;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(typed.AsSpan()));
        }
    }
}
