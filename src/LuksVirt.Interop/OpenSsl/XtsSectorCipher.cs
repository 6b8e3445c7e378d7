using System.Buffers.Binary;

namespace LuksVirt.Interop.OpenSsl;

/// <summary>
/// AES-XTS over whole sectors with the plain64 IV generator, as dm-crypt and QEMU apply it to a
/// LUKS payload: each encryption sector is one XTS data unit whose tweak is its position as a
/// 64-bit little-endian integer, zero-padded to 16 bytes. The position is counted in 512-byte
/// units whatever the encryption sector size: dm-crypt's default, which LUKS2 uses (cryptsetup
/// sets <c>iv_large_sectors</c> only for plain mappings that ask for it). So the 4096-byte
/// sectors of a LUKS2 payload have tweaks 0, 8, 16... (proven against dm-crypt in the lab,
/// scripts/lab/tests/encrypt-vm-dmcrypt.sh). The cipher itself is OpenSSL's (libcrypto); this
/// type only walks the sectors. One instance per thread: an EVP context is not thread-safe.
/// </summary>
public sealed class XtsSectorCipher : IDisposable
{
    private const int IvLength = 16;

    /// <summary>The unit plain64 counts in: dm-crypt's 512-byte sector.</summary>
    public const int IvSectorBytes = 512;
    private const int MinSectorSize = 512;
    private const int MaxSectorSize = 4096;

    private readonly SafeEvpCipherContextHandle _context;

    private XtsSectorCipher(SafeEvpCipherContextHandle context, bool encrypts)
    {
        _context = context;
        Encrypts = encrypts;
    }

    /// <summary>For a 32-byte (AES-128-XTS) or 64-byte (AES-256-XTS) volume key. OpenSSL copies
    /// the key into its schedule; the caller keeps and zeroes its own buffer.</summary>
    public static XtsSectorCipher CreateEncryptor(ReadOnlySpan<byte> key) => Create(key, encrypt: true);

    public static XtsSectorCipher CreateDecryptor(ReadOnlySpan<byte> key) => Create(key, encrypt: false);

    public bool Encrypts { get; }

    /// <summary>
    /// Transforms whole sectors of <paramref name="input"/> into <paramref name="output"/> (same
    /// length, or the same memory for in-place work). <paramref name="payloadOffset"/> is where
    /// <paramref name="input"/> lies in the payload, in bytes from its start (a whole number of
    /// sectors); the sector there gets IV <c>payloadOffset / 512</c>, the next one
    /// <c>sectorSize / 512</c> more, and so on.
    /// </summary>
    public unsafe void Transform(ReadOnlySpan<byte> input, Span<byte> output, long payloadOffset, int sectorSize)
    {
        if (sectorSize is < MinSectorSize or > MaxSectorSize || (sectorSize & (sectorSize - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sectorSize), sectorSize, "a sector is 512, 1024, 2048 or 4096 bytes");
        }

        if (payloadOffset < 0 || payloadOffset % sectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(payloadOffset), payloadOffset, $"the payload offset must be a whole number of {sectorSize}-byte sectors");
        }

        if (input.Length % sectorSize != 0 || output.Length != input.Length)
        {
            throw new ArgumentException($"input and output must be the same whole number of {sectorSize}-byte sectors", nameof(input));
        }

        ObjectDisposedException.ThrowIf(_context.IsClosed, this);
        var iv = stackalloc byte[IvLength];
        new Span<byte>(iv, IvLength).Clear();
        var added = false;
        _context.DangerousAddRef(ref added);
        try
        {
            // One reference for the whole walk instead of one per sector: the raw pointer is
            // only used while the handle cannot be released.
            var context = _context.DangerousGetHandle();
            fixed (byte* source = input)
            fixed (byte* target = output)
            {
                var sectors = input.Length / sectorSize;
                var firstIv = (ulong)(payloadOffset / IvSectorBytes);
                var ivStep = (ulong)(sectorSize / IvSectorBytes);
                for (var i = 0; i < sectors; i++)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(iv, sizeof(ulong)), firstIv + ((ulong)i * ivStep));
                    if (Interop.OpenSsl.CipherSetIv(context, 0, 0, null, iv, -1) != 1)
                    {
                        throw OpenSslErrors.Create("EVP_CipherInit_ex");
                    }

                    var offset = i * sectorSize;
                    int written;
                    if (Interop.OpenSsl.CipherUpdate(context, target + offset, &written, source + offset, sectorSize) != 1 || written != sectorSize)
                    {
                        throw OpenSslErrors.Create("EVP_CipherUpdate");
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                _context.DangerousRelease();
            }
        }
    }

    public void Dispose() => _context.Dispose();

    private static unsafe XtsSectorCipher Create(ReadOnlySpan<byte> key, bool encrypt)
    {
        var cipher = key.Length switch
        {
            32 => Interop.OpenSsl.Aes128Xts(),
            64 => Interop.OpenSsl.Aes256Xts(),
            _ => throw new ArgumentException($"an AES-XTS key is 32 or 64 bytes, not {key.Length}", nameof(key)),
        };
        if (cipher == 0)
        {
            throw OpenSslErrors.Create(key.Length == 32 ? "EVP_aes_128_xts" : "EVP_aes_256_xts");
        }

        var context = Interop.OpenSsl.CipherContextNew();
        if (context.IsInvalid)
        {
            context.Dispose();
            throw OpenSslErrors.Create("EVP_CIPHER_CTX_new");
        }

        try
        {
            int result;
            fixed (byte* keyBytes = key)
            {
                result = Interop.OpenSsl.CipherInit(context.DangerousGetHandle(), cipher, 0, keyBytes, null, encrypt ? 1 : 0);
            }

            if (result != 1)
            {
                // OpenSSL 3 refuses an XTS key whose two halves are equal, among others.
                throw OpenSslErrors.Create("EVP_CipherInit_ex");
            }

            return new XtsSectorCipher(context, encrypt);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }
}
