using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.OpenSsl;
using LuksVirt.Interop.Secrets;
using Microsoft.Win32.SafeHandles;

namespace LuksVirt.Core.Migration;

/// <summary>The two streaming SHA-256 sums of one migration: of the plaintext read from the
/// source, and of the container's payload read back from the disk and decrypted.</summary>
internal sealed record PayloadHashes(byte[] Source, byte[] DecryptedCopy)
{
    public bool Match => CryptographicOperations.FixedTimeEquals(Source, DecryptedCopy);
}

/// <summary>
/// Encrypts a plaintext stream into a LUKS payload and verifies it in the same pass, on every
/// core:
/// <list type="bullet">
/// <item>one thread reads the source in large chunks, in order;</item>
/// <item>one worker per core encrypts a chunk with OpenSSL's AES-XTS (its own EVP context),
/// writes it to the container, reads it back from the disk (O_DIRECT where the file system
/// allows, so not from the page cache), and decrypts it again;</item>
/// <item>two threads hash, in order: one the plaintext as read, one the decrypted read-back.</item>
/// </list>
/// Both sums are the plain streaming SHA-256 that <c>sha256sum</c> prints for the plaintext, so
/// they can be checked against the source by any tool. The two hash streams run side by side
/// instead of in a second pass: SHA-256 cannot be split across cores, but two streams can use
/// two. Chunks are recycled through a small pool, so memory stays at a few chunks per core.
/// </summary>
internal sealed class PayloadPipeline
{
    /// <summary>4 MiB: large sequential I/O, yet small enough to keep every core busy.</summary>
    public const int DefaultChunkBytes = 4 << 20;

    private readonly PayloadGeometry _geometry;
    private readonly int _workers;
    private readonly int _chunkBytes;

    public PayloadPipeline(PayloadGeometry geometry, int workers, int chunkBytes = DefaultChunkBytes)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        if (chunkBytes <= 0 || chunkBytes % UnbufferedFile.Alignment != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkBytes), chunkBytes, $"a chunk is a positive multiple of {UnbufferedFile.Alignment} bytes");
        }

        _geometry = geometry;
        _workers = workers;
        _chunkBytes = chunkBytes;
    }

    /// <summary>
    /// Reads <see cref="PayloadGeometry.PlaintextLength"/> bytes from <paramref name="source"/>,
    /// encrypts them with <paramref name="volumeKey"/> into the payload of
    /// <paramref name="container"/>, reads every chunk back and decrypts it, and returns both
    /// hashes. <paramref name="afterChunk"/> is called from worker threads with the payload bytes
    /// of each chunk once it is written and read back.
    /// </summary>
    public async Task<PayloadHashes> EncryptAndVerifyAsync(SafeFileHandle source, PayloadFile container, SecretBuffer volumeKey, Action<long> afterChunk, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(container);
        ArgumentNullException.ThrowIfNull(volumeKey);
        ArgumentNullException.ThrowIfNull(afterChunk);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = failed.Token;
        var depth = (2 * _workers) + 2;
        var chunks = Enumerable.Range(0, depth).Select(_ => new Chunk(_chunkBytes)).ToList();
        using var free = new BlockingCollection<Chunk>(depth);
        using var toWorkers = new BlockingCollection<Chunk>(depth);
        using var toSourceHash = new BlockingCollection<Chunk>(depth);
        using var toCopyHash = new BlockingCollection<Chunk>(depth);
        foreach (var chunk in chunks)
        {
            free.Add(chunk, CancellationToken.None);
        }

        // A chunk goes back to the pool once both hashers are through with it.
        void Release(Chunk chunk)
        {
            if (Interlocked.Decrement(ref chunk.Pending) == 0)
            {
                chunk.Verified.Reset();
                free.Add(chunk, CancellationToken.None);
            }
        }

        Task Start(Action work) => Task.Factory.StartNew(
            () =>
            {
                try
                {
                    work();
                }
                catch
                {
                    // Stop every other stage at once; the first real error is rethrown below.
                    failed.Cancel();
                    throw;
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning, // blocking file I/O and CPU-bound cipher and hash work
            TaskScheduler.Default);

        using var sourceHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var copyHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var stages = new List<Task>
        {
            Start(() => Read(source, free, [toWorkers, toSourceHash, toCopyHash], token)),
            Start(() => Hash(sourceHash, toSourceHash, c => c.Input, waitForVerify: false, Release, token)),
            Start(() => Hash(copyHash, toCopyHash, c => c.Output, waitForVerify: true, Release, token)),
        };
        for (var i = 0; i < _workers; i++)
        {
            stages.Add(Start(() => Work(container, volumeKey, toWorkers, afterChunk, token)));
        }

        try
        {
            await Task.WhenAll(stages).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A stage failed and cancelled the others: report that failure, not a cancellation.
            var cause = stages.Where(s => s.IsFaulted).SelectMany(s => s.Exception!.InnerExceptions)
                .FirstOrDefault(e => e is not OperationCanceledException);
            if (cause is not null)
            {
                ExceptionDispatchInfo.Throw(cause);
            }

            throw;
        }
        finally
        {
            foreach (var chunk in chunks)
            {
                // Plaintext must not linger in freed memory longer than needed.
                CryptographicOperations.ZeroMemory(chunk.Input.Span);
                CryptographicOperations.ZeroMemory(chunk.Output.Span);
                chunk.Verified.Dispose();
            }
        }

        return new PayloadHashes(sourceHash.GetHashAndReset(), copyHash.GetHashAndReset());
    }

    private sealed class Chunk(int bytes)
    {
        /// <summary>Plaintext as read from the source.</summary>
        public Memory<byte> Input { get; } = UnbufferedFile.AllocateAligned(bytes);

        /// <summary>Ciphertext, then the same bytes read back and decrypted in place.</summary>
        public Memory<byte> Output { get; } = UnbufferedFile.AllocateAligned(bytes);

        public ManualResetEventSlim Verified { get; } = new();
        public long PayloadOffset { get; set; }
        public int Length { get; set; }
        public int PlaintextLength { get; set; }
        public int Pending;
    }

    private void Read(SafeFileHandle source, BlockingCollection<Chunk> free, BlockingCollection<Chunk>[] consumers, CancellationToken token)
    {
        try
        {
            for (long offset = 0; offset < _geometry.PayloadLength; offset += _chunkBytes)
            {
                var chunk = free.Take(token);
                chunk.PayloadOffset = offset;
                chunk.Length = (int)Math.Min(_chunkBytes, _geometry.PayloadLength - offset);
                chunk.PlaintextLength = (int)Math.Clamp(_geometry.PlaintextLength - offset, 0, chunk.Length);
                var input = chunk.Input.Span;
                ReadExactly(source, input[..chunk.PlaintextLength], offset);
                // The last sector of a source that is not a whole number of sectors: zeros.
                input[chunk.PlaintextLength..chunk.Length].Clear();
                chunk.Pending = 2;
                foreach (var consumer in consumers)
                {
                    consumer.Add(chunk, token);
                }
            }
        }
        finally
        {
            foreach (var consumer in consumers)
            {
                consumer.CompleteAdding();
            }
        }
    }

    private static void Hash(IncrementalHash hash, BlockingCollection<Chunk> queue, Func<Chunk, Memory<byte>> data, bool waitForVerify, Action<Chunk> release, CancellationToken token)
    {
        foreach (var chunk in queue.GetConsumingEnumerable(token))
        {
            if (waitForVerify)
            {
                chunk.Verified.Wait(token);
            }

            hash.AppendData(data(chunk).Span[..chunk.PlaintextLength]);
            release(chunk);
        }
    }

    private void Work(PayloadFile container, SecretBuffer volumeKey, BlockingCollection<Chunk> queue, Action<long> afterChunk, CancellationToken token)
    {
        using var encryptor = XtsSectorCipher.CreateEncryptor(volumeKey.Span);
        using var decryptor = XtsSectorCipher.CreateDecryptor(volumeKey.Span);
        foreach (var chunk in queue.GetConsumingEnumerable(token))
        {
            var length = chunk.Length;
            var output = chunk.Output.Span[..length];
            var offset = _geometry.PayloadOffset + chunk.PayloadOffset;
            encryptor.Transform(chunk.Input.Span[..length], output, chunk.PayloadOffset, _geometry.SectorSize);
            container.Write(output, offset);
            container.ReadExactly(output, offset);
            decryptor.Transform(output, output, chunk.PayloadOffset, _geometry.SectorSize);
            chunk.Verified.Set();
            afterChunk(length);
        }
    }

    internal static void ReadExactly(SafeFileHandle file, Span<byte> buffer, long offset)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = RandomAccess.Read(file, buffer[total..], offset + total);
            if (read == 0)
            {
                throw new EndOfStreamException($"the input ended at byte {offset + total}, {buffer.Length - total} bytes before the expected end; did it shrink during the copy?");
            }

            total += read;
        }
    }
}
