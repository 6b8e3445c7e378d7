using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Secrets;

public sealed class SecretBufferTests : IDisposable
{
    private const string Base64UrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    private readonly TempDirectory _dir = new("secret");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Dispose_zeroes_the_bytes()
    {
        var buffer = SecretBuffer.FromRandom(64);
        Assert.Contains(buffer.Span.ToArray(), b => b != 0);

        // Dispose's own steps; the hook copies the pages after the wipe, before they are unmapped.
        var pages = buffer.DisposeAndCopyWipedPagesForTests();

        Assert.True(buffer.IsDisposed);
        Assert.Equal(Environment.SystemPageSize, pages.Length);
        Assert.All(pages, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Span_throws_after_dispose()
    {
        var buffer = SecretBuffer.CopyOf("secret"u8);
        buffer.Dispose();

        Assert.Throws<ObjectDisposedException>(() => buffer.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => buffer.WritableSpan.Length);
    }

    [Fact]
    public void ToString_reveals_no_content()
    {
        using var buffer = SecretBuffer.CopyOf("hunter2-correct-horse"u8);

        var text = buffer.ToString();

        Assert.Equal("SecretBuffer(21 bytes)", text);
        Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadFrom_rejects_an_empty_file()
    {
        var path = _dir.PathOf("empty");
        File.WriteAllBytes(path, []);
        using var file = PosixFile.OpenNoFollow(path, out _);

        var e = Assert.Throws<InvalidDataException>(() => SecretBuffer.ReadFrom(file));
        Assert.Contains("empty", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadFrom_rejects_one_byte_over_the_limit()
    {
        var path = _dir.PathOf("oversized");
        File.WriteAllBytes(path, new byte[SecretBuffer.MaxKeyLength + 1]);
        using var file = PosixFile.OpenNoFollow(path, out _);

        var e = Assert.Throws<InvalidDataException>(() => SecretBuffer.ReadFrom(file));
        Assert.Contains("larger than the limit of 8388608 bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadFrom_reads_exactly_the_limit()
    {
        var path = _dir.PathOf("limit");
        var content = new byte[SecretBuffer.MaxKeyLength];
        Random.Shared.NextBytes(content);
        File.WriteAllBytes(path, content);
        using var file = PosixFile.OpenNoFollow(path, out _);

        using var buffer = SecretBuffer.ReadFrom(file);

        Assert.True(buffer.Span.SequenceEqual(content));
    }

    [Fact]
    public void GeneratePrintableKey_uses_the_base64url_alphabet_and_keys_differ()
    {
        using var first = SecretBuffer.GeneratePrintableKey();
        using var second = SecretBuffer.GeneratePrintableKey();

        Assert.Equal(64, first.Length);
        Assert.All(first.Span.ToArray(), b => Assert.Contains((char)b, Base64UrlAlphabet));
        Assert.All(second.Span.ToArray(), b => Assert.Contains((char)b, Base64UrlAlphabet));
        Assert.False(first.ContentEquals(second));
        Assert.True(first.IsUtf8WithoutNul);
    }

    [Fact]
    public void IsUtf8WithoutNul_accepts_text_and_rejects_nul_and_invalid_utf8()
    {
        using var text = SecretBuffer.CopyOf("pässwörd\n"u8);
        using var withNul = SecretBuffer.CopyOf("pass\0word"u8);
        using var invalid = SecretBuffer.CopyOf([0x70, 0xC3, 0x28]);

        Assert.True(text.IsUtf8WithoutNul);
        Assert.False(withNul.IsUtf8WithoutNul);
        Assert.False(invalid.IsUtf8WithoutNul);
    }
}
