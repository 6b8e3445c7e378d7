using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Secrets;

/// <summary>
/// The only type that may hold key bytes: a pinned array, mlocked where the kernel allows,
/// zeroed on dispose. It never becomes a string; <see cref="ToString"/> reveals only the length.
/// </summary>
public sealed class SecretBuffer : IDisposable
{
    /// <summary>Largest key accepted from any source. Key files are 64 bytes by the classic
    /// recipe; 8 KiB (cryptsetup's own default key-file limit) leaves ample room.</summary>
    public const int MaxKeyLength = 8192;

    private const string Base64UrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    // Pinned so the GC never leaves a stale copy behind when it compacts the heap.
    private readonly byte[] _bytes;
    private readonly bool _locked;
    private bool _disposed;

    private SecretBuffer(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _bytes = GC.AllocateArray<byte>(length, pinned: true);
        _locked = Interop.Libc.TryLockMemory(_bytes);
    }

    /// <summary>A zero-filled buffer of <paramref name="length"/> bytes.</summary>
    public static SecretBuffer Allocate(int length) => new(length);

    /// <summary><paramref name="length"/> bytes from the system CSPRNG.</summary>
    public static SecretBuffer FromRandom(int length)
    {
        var buffer = new SecretBuffer(length);
        RandomNumberGenerator.Fill(buffer._bytes);
        return buffer;
    }

    /// <summary>A printable key of <paramref name="characters"/> random base64url characters
    /// (6 bits each, 384 bits for 64): a LUKS passphrase both QEMU and dm-crypt accept.</summary>
    public static SecretBuffer GeneratePrintableKey(int characters = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(characters, 16);
        var buffer = new SecretBuffer(characters);
        // 64 symbols divide 256 evenly, so masking a random byte to 6 bits has no bias.
        RandomNumberGenerator.Fill(buffer._bytes);
        for (var i = 0; i < buffer._bytes.Length; i++)
        {
            buffer._bytes[i] = (byte)Base64UrlAlphabet[buffer._bytes[i] & 0x3F];
        }

        return buffer;
    }

    /// <summary>Copies <paramref name="source"/>; the caller stays responsible for zeroing it.</summary>
    public static SecretBuffer CopyOf(ReadOnlySpan<byte> source)
    {
        var buffer = new SecretBuffer(source.Length);
        source.CopyTo(buffer._bytes);
        return buffer;
    }

    /// <summary>Reads an open file to its end straight into pinned memory. Throws
    /// <see cref="InvalidDataException"/> when it holds more than <paramref name="maxLength"/>
    /// bytes or nothing at all; no partial buffer survives a failure.</summary>
    public static SecretBuffer ReadFrom(SafeFileHandle file, int maxLength = MaxKeyLength)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);

        // One byte more than allowed, so an oversized file is detected without reading it all.
        var scratch = new SecretBuffer(maxLength + 1);
        try
        {
            var total = 0;
            while (total < scratch._bytes.Length)
            {
                var read = RandomAccess.Read(file, scratch._bytes.AsSpan(total), total);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            if (total == 0)
            {
                throw new InvalidDataException("the key file is empty");
            }

            if (total > maxLength)
            {
                throw new InvalidDataException($"the key file is larger than the limit of {maxLength} bytes");
            }

            return CopyOf(scratch._bytes.AsSpan(0, total));
        }
        finally
        {
            scratch.Dispose();
        }
    }

    public int Length => _bytes.Length;

    public bool IsDisposed => _disposed;

    /// <summary>True when the buffer was locked into RAM (mlock), so it cannot reach swap.</summary>
    public bool IsMemoryLocked => _locked;

    /// <summary>The key bytes. Throws <see cref="ObjectDisposedException"/> after dispose.</summary>
    public ReadOnlySpan<byte> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _bytes;
        }
    }

    /// <summary>Writable view for sources that fill the buffer in place.</summary>
    public Span<byte> WritableSpan
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _bytes;
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

    public override string ToString() => _disposed ? "SecretBuffer(disposed)" : $"SecretBuffer({_bytes.Length} bytes)";

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        CryptographicOperations.ZeroMemory(_bytes);
        if (_locked)
        {
            Interop.Libc.UnlockMemory(_bytes);
        }
    }

    /// <summary>For tests: the pinned array itself, so a test can prove it is zero after dispose.</summary>
    internal byte[] UnderlyingArrayForTests => _bytes;
}
