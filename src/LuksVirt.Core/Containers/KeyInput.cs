using System.Globalization;
using LuksVirt.Libc;
using LuksVirt.Secrets;

namespace LuksVirt.Core.Containers;

/// <summary>
/// Reads one key given by an administrator (<c>--key-file FILE</c> or <c>-</c>) straight into a
/// <see cref="SecretBuffer"/>, byte for byte (a trailing newline is part of the key). A file is
/// opened without following links or blocking, and refused unless fstat says it is a regular,
/// non-empty file of at most <see cref="SecretBuffer.MaxKeyLength"/> bytes.
/// </summary>
public static class KeyInput
{
    /// <summary>Throws <see cref="ContainerRefusedException"/> for a missing, linked, special,
    /// empty or oversized file, naming the file and the reason (never its content).</summary>
    public static SecretBuffer ReadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            using var file = PosixFile.OpenNoFollow(path, out var status);
            if (status.Type != PosixFileType.Regular)
            {
                throw new ContainerRefusedException($"key file {path} is not a regular file ({Describe(status.Type)}); give the key in a regular file, or on standard input with --key-file -");
            }

            if (status.Size == 0)
            {
                throw new ContainerRefusedException($"key file {path} is empty");
            }

            if (status.Size > SecretBuffer.MaxKeyLength)
            {
                throw new ContainerRefusedException(string.Create(CultureInfo.InvariantCulture,
                    $"key file {path} is larger than the limit of {SecretBuffer.MaxKeyLength} bytes ({status.Size} bytes); is it really a key?"));
            }

            return SecretBuffer.ReadFrom(file);
        }
        catch (SymbolicLinkRefusedException)
        {
            throw new ContainerRefusedException($"key file {path} is a symbolic link; LuksVirt does not follow links to keys: give the real file");
        }
        catch (FileNotFoundException)
        {
            throw new ContainerRefusedException($"key file {path} does not exist");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new ContainerRefusedException($"key file {path} cannot be read: {e.Message}", e);
        }
    }

    /// <summary>Everything up to end of input (standard input for <c>--key-file -</c>).</summary>
    public static SecretBuffer ReadToEnd(Stream input)
    {
        ArgumentNullException.ThrowIfNull(input);
        // One byte more than allowed, so an oversized key is detected without reading it all.
        using var scratch = SecretBuffer.Allocate(SecretBuffer.MaxKeyLength + 1);
        var total = 0;
        while (total < scratch.Length)
        {
            var read = input.Read(scratch.WritableSpan[total..]);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        if (total == 0)
        {
            throw new ContainerRefusedException("the key on standard input is empty");
        }

        return total > SecretBuffer.MaxKeyLength
            ? throw new ContainerRefusedException($"the key on standard input is larger than the limit of {SecretBuffer.MaxKeyLength} bytes")
            : SecretBuffer.CopyOf(scratch.Span[..total]);
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

    private static string Describe(PosixFileType type) => type switch
    {
        PosixFileType.Fifo => "a FIFO",
        PosixFileType.CharacterDevice => "a character device",
        PosixFileType.BlockDevice => "a block device",
        PosixFileType.Directory => "a directory",
        PosixFileType.Socket => "a socket",
        _ => "not a regular file",
    };
}
