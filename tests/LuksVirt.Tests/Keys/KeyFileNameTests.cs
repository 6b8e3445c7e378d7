using LuksVirt.Core.Keys;

namespace LuksVirt.Tests.Keys;

public sealed class KeyFileNameTests
{
    [Theory]
    [InlineData("luks-alice.1.key", "alice", 1)]
    [InlineData("luks-bob.key", "bob", null)]
    [InlineData("luks-Carol_2-x.0.key", "Carol_2-x", 0)]
    [InlineData("luks-d.31.key", "d", 31)]
    [InlineData("LUKS-A.KEY", "A", null)]
    public void TryParse_accepts_the_convention(string name, string holder, int? slot)
    {
        Assert.True(KeyFileName.TryParse(name, out var parsedHolder, out var parsedSlot));
        Assert.Equal(holder, parsedHolder);
        Assert.Equal(slot, parsedSlot);
        Assert.Null(KeyFileName.Explain(name));
    }

    [Theory]
    [InlineData("luks-a;rm.key", "';'")]
    [InlineData("luks-$(reboot).key", "'$'")]
    [InlineData("luks-a b.key", "' '")]
    [InlineData("luks-../x.key", "\"..\"")]
    [InlineData("luks-a\n.key", "control character")]
    [InlineData("luks-ä.key", "beyond ASCII")]
    [InlineData("luks-.key", "holder name is empty")]
    [InlineData("luks-a.32.key", "slot hint \"32\"")]
    [InlineData("luks-a.01.key", "without leading zeros")]
    [InlineData("luks-a.-1.key", "slot hint")]
    [InlineData("luks-a.1.2.key", "more than one '.'")]
    [InlineData("luks-a.1.key.bak", "does not end with")]
    [InlineData("alice.key", "does not start with")]
    [InlineData("", "empty")]
    public void Explain_names_the_broken_rule(string name, string expected)
    {
        Assert.False(KeyFileName.TryParse(name, out _, out _));
        Assert.Contains(expected, KeyFileName.Explain(name), StringComparison.Ordinal);
    }

    [Fact]
    public void Holder_is_limited_to_64_characters_and_the_name_to_255_bytes()
    {
        Assert.True(KeyFileName.TryParse($"luks-{new string('h', 64)}.key", out _, out _));
        Assert.Contains("longer than 64", KeyFileName.Explain($"luks-{new string('h', 65)}.key"), StringComparison.Ordinal);
        var name256 = $"luks-{new string('h', 256 - 9)}.key";
        Assert.Equal(256, name256.Length);
        Assert.Contains("longer than 255 bytes", KeyFileName.Explain(name256), StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_never_echoes_unprintable_characters()
    {
        var reason = KeyFileName.Explain("luks-\u001b[31m\u00e9\n.key");

        Assert.NotNull(reason);
        Assert.All(reason, c => Assert.InRange(c, ' ', '~'));
    }

    [Theory]
    [InlineData("luks-a\nb.key", @"luks-a\nb.key")]
    [InlineData("luks-\u001b[2J.key", @"luks-\x1B[2J.key")]
    [InlineData("luks-é\\.key", @"luks-\u{00E9}\\.key")]
    [InlineData("plain.txt", "plain.txt")]
    public void Sanitize_escapes_control_and_non_ascii_characters(string raw, string expected) =>
        Assert.Equal(expected, KeyFileName.Sanitize(raw));

    [Fact]
    public void Sanitize_truncates_long_names()
    {
        var sanitized = KeyFileName.Sanitize(new string('x', 300));

        Assert.Equal(new string('x', KeyFileName.MaxSanitizedCharacters) + "...", sanitized);
    }

    [Fact]
    public void Sanitize_of_raw_bytes_escapes_every_non_printable_byte()
    {
        Assert.Equal(@"LUKS-A\xE9\x00\x0A.KEY\\", KeyFileName.Sanitize([.. "LUKS-A"u8, 0xE9, 0x00, 0x0A, .. ".KEY\\"u8]));
    }

    [Fact]
    public void LooksLikeKeyFile_separates_key_candidates_from_unrelated_names()
    {
        Assert.True(KeyFileName.LooksLikeKeyFile("luks-a;rm.key"));
        Assert.True(KeyFileName.LooksLikeKeyFile("whatever.KEY"));
        Assert.True(KeyFileName.LooksLikeKeyFile("LUKS-x"));
        Assert.False(KeyFileName.LooksLikeKeyFile("README"));
        Assert.False(KeyFileName.LooksLikeKeyFile(".hidden"));
    }

    [Fact]
    public void Format_builds_names_that_parse_back()
    {
        Assert.Equal("luks-alice.3.key", KeyFileName.Format("alice", 3));
        Assert.Equal("luks-bob.key", KeyFileName.Format("bob", null));
        Assert.Throws<ArgumentException>(() => KeyFileName.Format("a/b", 1));
        Assert.Throws<ArgumentException>(() => KeyFileName.Format("a", 32));
    }
}
