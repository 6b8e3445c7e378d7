using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Interop.Secrets;

/// <summary>
/// The only type that may hold key bytes: native pages of its own (<see cref="SecretPages"/>:
/// secret memory or mlock'ed, left out of core dumps, between guard pages), zeroed and unmapped on
/// dispose. It never becomes a string; <see cref="ToString"/> reveals only the length.
/// </summary>
/// <remarks>A span taken from <see cref="Span"/> or <see cref="WritableSpan"/> points into those
/// pages: it must not be used after the buffer is disposed.</remarks>
public sealed class SecretBuffer : IDisposable
{
    /// <summary>Largest key accepted from any source: cryptsetup's own default key-file limit
    /// (DEFAULT_KEYFILE_SIZE_MAXKB, 8192 KiB; `cryptsetup --help` prints it), so every key file
    /// cryptsetup accepts by default works here too.</summary>
    public const int MaxKeyLength = 8 * 1024 * 1024;

    private const string Base64UrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    private readonly SecretPages _pages;
    private readonly int _length;

    private SecretBuffer(SecretPages pages, int length)
    {
        _pages = pages;
        _length = length;
    }

    private SecretBuffer(int length)
        : this(SecretPages.Allocate(length), length)
    {
    }

    /// <summary>A zero-filled buffer of <paramref name="length"/> bytes.</summary>
    public static SecretBuffer Allocate(int length) => new(length);

    /// <summary><paramref name="length"/> bytes from the system CSPRNG.</summary>
    public static SecretBuffer FromRandom(int length)
    {
        var buffer = new SecretBuffer(length);
        RandomNumberGenerator.Fill(buffer.WritableSpan);
        return buffer;
    }

    /// <summary>A printable key of <paramref name="characters"/> random base64url characters
    /// (6 bits each, 384 bits for 64): a LUKS passphrase both QEMU and dm-crypt accept.</summary>
    public static SecretBuffer GeneratePrintableKey(int characters = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(characters, 16);
        var buffer = new SecretBuffer(characters);
        var bytes = buffer.WritableSpan;
        // 64 symbols divide 256 evenly, so masking a random byte to 6 bits has no bias.
        RandomNumberGenerator.Fill(bytes);
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)Base64UrlAlphabet[bytes[i] & 0x3F];
        }

        return buffer;
    }

    /// <summary>Copies <paramref name="source"/>; the caller stays responsible for zeroing it.</summary>
    public static SecretBuffer CopyOf(ReadOnlySpan<byte> source)
    {
        var buffer = new SecretBuffer(source.Length);
        source.CopyTo(buffer.WritableSpan);
        return buffer;
    }

    /// <summary>
    /// Reads an open file to its end straight into the pages the key is then kept in (no other
    /// copy). The pages are sized by fstat: the file's size plus one byte, so a file that grows
    /// while it is read, or one over <paramref name="maxLength"/>, is detected without reading it
    /// all. Throws <see cref="InvalidDataException"/> when the file is empty, larger than
    /// <paramref name="maxLength"/> bytes, or grew; no partial buffer survives a failure.
    /// </summary>
    public static SecretBuffer ReadFrom(SafeFileHandle file, int maxLength = MaxKeyLength)
    {
        ArgumentNullException.ThrowIfNull(file);
        CheckMaxLength(maxLength);
        var size = RandomAccess.GetLength(file);
        var capacity = (int)Math.Min(Math.Max(size, 0) + 1, (long)maxLength + 1);
        var pages = SecretPages.Allocate(capacity);
        try
        {
            var total = ReadToEnd(pages.Span[..capacity], (target, offset) => RandomAccess.Read(file, target, offset), "the key file", maxLength);
            if (total == capacity)
            {
                throw new InvalidDataException($"the key file grew while it was read (fstat said {size} bytes); read it again once it is complete");
            }

            return new SecretBuffer(pages, total);
        }
        catch
        {
            pages.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads a stream to its end (standard input: no size is known beforehand) through scratch
    /// pages of <paramref name="maxLength"/> + 1 bytes, then keeps a copy of exactly the key's
    /// length, so the locked memory held afterwards is the key's own size. Throws
    /// <see cref="InvalidDataException"/>, naming the input as <paramref name="inputName"/> ("the
    /// key on standard input"), when it is empty or larger than <paramref name="maxLength"/> bytes.
    /// </summary>
    public static SecretBuffer ReadFrom(Stream input, string inputName, int maxLength = MaxKeyLength)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentException.ThrowIfNullOrEmpty(inputName);
        CheckMaxLength(maxLength);
        using var scratch = SecretPages.Allocate(maxLength + 1);
        var total = ReadToEnd(scratch.Span[..(maxLength + 1)], (target, _) => input.Read(target), inputName, maxLength);
        return CopyOf(scratch.Span[..total]);
    }

    public int Length => _length;

    public bool IsDisposed => _pages.IsDisposed;

    /// <summary>True when the kernel keeps the bytes in RAM (secret memory or mlock), so they
    /// cannot reach swap. False only where it refused to lock them (RLIMIT_MEMLOCK).</summary>
    public bool IsMemoryLocked => _pages.Kind != SecretMemoryKind.UnlockedPages;

    /// <summary>How the kernel keeps the bytes: what <c>luksvirt doctor</c> reports.</summary>
    public SecretMemoryKind MemoryKind => _pages.Kind;

    /// <summary>The key bytes. Throws <see cref="ObjectDisposedException"/> after dispose.</summary>
    public ReadOnlySpan<byte> Span => WritableSpan;

    /// <summary>Writable view for sources that fill the buffer in place.</summary>
    public Span<byte> WritableSpan
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pages.IsDisposed, this);
            return _pages.Span[.._length];
        }
    }

    /// <summary>True when the bytes are valid UTF-8 with no NUL: what QEMU's LUKS driver accepts.</summary>
    public bool IsUtf8WithoutNul => !Span.Contains((byte)0) && System.Text.Unicode.Utf8.IsValid(Span);

    /// <summary>Constant-time comparison.</summary>
    public bool ContentEquals(SecretBuffer other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return CryptographicOperations.FixedTimeEquals(Span, other.Span);
    }

    public override string ToString() => IsDisposed ? "SecretBuffer(disposed)" : $"SecretBuffer({_length} bytes)";

    /// <summary>Zeroes the bytes and unmaps their pages. Safe to call more than once.</summary>
    public void Dispose() => _pages.Dispose();

    private static void CheckMaxLength(int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLength, MaxKeyLength);
    }

    /// <summary>The one read loop of every key input: fills <paramref name="target"/> until the
    /// input ends or the target is full, and refuses an empty input or one over
    /// <paramref name="maxLength"/> (the target is one byte longer, so that shows without reading on).</summary>
    private static int ReadToEnd(Span<byte> target, ReadChunk read, string inputName, int maxLength)
    {
        var total = 0;
        while (total < target.Length)
        {
            var count = read(target[total..], total);
            if (count == 0)
            {
                break;
            }

            total += count;
        }

        if (total == 0)
        {
            throw new InvalidDataException($"{inputName} is empty");
        }

        return total > maxLength
            ? throw new InvalidDataException($"{inputName} is larger than the limit of {maxLength} bytes")
            : total;
    }

    /// <summary>For tests: disposes exactly as <see cref="Dispose"/> does and returns a copy of the
    /// buffer's pages taken after they were zeroed and before they were unmapped.</summary>
    internal byte[] DisposeAndCopyWipedPagesForTests() => _pages.DisposeAndCopyWipedBytes();

    /// <summary>For tests: where the bytes are, to find their mapping in /proc/self/smaps.</summary>
    internal nint AddressForTests => _pages.AddressForTests;
}

/// <summary>Reads into <paramref name="target"/> at <paramref name="offset"/> bytes from the start
/// of the input; 0 at its end.</summary>
internal delegate int ReadChunk(Span<byte> target, long offset);
