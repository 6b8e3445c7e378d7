using System.Globalization;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Keys;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.KeyManagement;

/// <summary>
/// Reads one key given by an administrator (<c>--key-file FILE</c> or <c>-</c>) straight into a
/// <see cref="SecretBuffer"/>, byte for byte (a trailing newline is part of the key). A file goes
/// through <see cref="KeyFileReader"/>, as the key directory's files do: looked at without
/// following links, opened without blocking, and refused unless it is a regular, non-empty file
/// of at most <see cref="SecretBuffer.MaxKeyLength"/> bytes. The refusals here speak to the
/// administrator who named the file.
/// </summary>
public static class KeyInput
{
    /// <summary>Throws <see cref="ContainerRefusedException"/> for a missing, linked, special,
    /// empty or oversized file, naming the file and the reason (never its content).</summary>
    public static SecretBuffer ReadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var read = KeyFileReader.Read(path, KeyFileChecks.AsGiven);
        return read.Key ?? throw new ContainerRefusedException(Explain(path, read.Refusal!));
    }

    /// <summary>Everything up to end of input (standard input for <c>--key-file -</c>).</summary>
    public static SecretBuffer ReadToEnd(Stream input)
    {
        ArgumentNullException.ThrowIfNull(input);
        try
        {
            return SecretBuffer.ReadFrom(input, "the key on standard input");
        }
        catch (InvalidDataException e)
        {
            throw new ContainerRefusedException(e.Message, e);
        }
    }

    /// <summary>
    /// One line of input without its line feed, read a byte at a time so nothing after it is
    /// consumed: how a passphrase arrives from a pipe. It then equals what a person types at a
    /// terminal (where Enter ends the passphrase and is not part of it).
    /// </summary>
    public static SecretBuffer ReadLine(Stream input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scratch = SecretBuffer.Allocate(SecretBuffer.MaxKeyLength + 1);
        var total = 0;
        Span<byte> one = stackalloc byte[1];
        while (total < scratch.Length)
        {
            if (input.Read(one) == 0 || one[0] == (byte)'\n')
            {
                break;
            }

            scratch.WritableSpan[total++] = one[0];
        }

        one.Clear();
        if (total == 0)
        {
            throw new ContainerRefusedException("the passphrase is empty");
        }

        return total > SecretBuffer.MaxKeyLength
            ? throw new ContainerRefusedException($"the passphrase is longer than the limit of {SecretBuffer.MaxKeyLength} bytes")
            : SecretBuffer.CopyOf(scratch.Span[..total]);
    }

    private static string Explain(string path, KeyFileRefusal refusal) => refusal.Problem switch
    {
        KeyFileProblem.Missing => $"key file {path} does not exist",
        KeyFileProblem.NotRegular when refusal.Stat.Type == PosixFileType.SymbolicLink =>
            $"key file {path} is a symbolic link; LuksVirt does not follow links to keys: give the real file",
        KeyFileProblem.NotRegular =>
            $"key file {path} is not a regular file ({NotRegularFileException.Describe(refusal.Stat.Type)}); give the key in a regular file, or on standard input with --key-file -",
        KeyFileProblem.Empty => $"key file {path} is empty",
        KeyFileProblem.TooLarge => string.Create(CultureInfo.InvariantCulture,
            $"key file {path} is larger than the limit of {SecretBuffer.MaxKeyLength} bytes ({refusal.Stat.Size} bytes); is it really a key?"),
        KeyFileProblem.Changed => $"key file {path} changed while it was being read; give it again",
        _ => $"key file {path} cannot be read: {refusal.Detail}",
    };
}
