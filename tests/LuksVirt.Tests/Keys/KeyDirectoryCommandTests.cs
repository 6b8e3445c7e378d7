using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Keys;

/// <summary>
/// The key directory as <c>luksvirt unlock --keys DIR</c> treats it, run as an administrator
/// would (issue 10, items 1, 5, 10): with no guest in scope the run still reads the keys and
/// cleans the directory, which is all these tests look at. The run talks to libvirt's test driver,
/// which has no encrypted guest: the real daemon's guests belong to other tests running alongside.
/// </summary>
public sealed class KeyDirectoryCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("keycmd");
    private readonly string _keys;

    public KeyDirectoryCommandTests()
    {
        _keys = _temp.PathOf("keys");
        Directory.CreateDirectory(_keys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllText(_temp.PathOf("luksvirt.xml"), "<vms/>");
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Unlock_never_changes_a_backup_that_is_hard_linked_into_the_key_directory()
    {
        var backup = WriteOutside("backup.key", 64);
        var big = WriteOutside("big.bin", 100 * 1024);
        ToolRunner.Run("ln", _temp.PathOf("backup.key"), Path.Combine(_keys, "luks-alice.key")).EnsureSuccess("ln");
        ToolRunner.Run("ln", _temp.PathOf("big.bin"), Path.Combine(_keys, "luks-big.key")).EnsureSuccess("ln");
        File.WriteAllBytes(Path.Combine(_keys, "luks-bob.key"), new byte[64]);

        var result = Unlock(_keys);

        Assert.True(File.ReadAllBytes(_temp.PathOf("backup.key")).AsSpan().SequenceEqual(backup), "the backup outside the key directory was changed");
        Assert.True(File.ReadAllBytes(_temp.PathOf("big.bin")).AsSpan().SequenceEqual(big), "the large file outside the key directory was changed");
        var rejected = Rejected(result);
        Assert.Contains("hard link", rejected["luks-alice.key"], StringComparison.Ordinal);
        Assert.Contains("hard link", rejected["luks-big.key"], StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_keys, "luks-bob.key")));
    }

    [Fact]
    public void Unlock_removes_a_key_file_name_before_it_writes_a_single_zero_into_the_file()
    {
        Assert.True(File.Exists("/usr/bin/strace"), "this test watches the system calls with strace (apt-get install strace)");
        File.WriteAllBytes(Path.Combine(_keys, "luks-bob.key"), new byte[64]);
        var trace = _temp.PathOf("trace");
        var (program, prefix) = LuksVirtCli.Command();

        ToolRunner.Run("strace", ["-f", "-qq", "-e", "trace=openat,unlinkat,write,pwrite64,close", "-o", trace, program, .. prefix, .. Arguments(_keys)], timeout: TimeSpan.FromMinutes(2))
            .EnsureSuccess("luksvirt unlock under strace");

        var lines = File.ReadAllLines(trace);
        var open = Array.FindIndex(lines, l => Regex.IsMatch(l, @"openat\(\d+, ""luks-bob\.key"", O_(WRONLY|RDWR)[^)]*\) = \d+$"));
        Assert.True(open >= 0, "the key file was never opened for the wipe:\n" + string.Join('\n', lines.Where(l => l.Contains("luks-bob", StringComparison.Ordinal))));
        var descriptor = int.Parse(Regex.Match(lines[open], @"= (\d+)$").Groups[1].Value, CultureInfo.InvariantCulture);
        var unlink = Array.FindIndex(lines, l => l.Contains("unlinkat(", StringComparison.Ordinal) && l.Contains("\"luks-bob.key\"", StringComparison.Ordinal) && l.EndsWith("= 0", StringComparison.Ordinal));
        var firstWrite = FirstWriteThrough(lines, open, descriptor);

        Assert.True(unlink >= 0, "the key file was not unlinked");
        Assert.True(firstWrite >= 0, "the key file's content was not zeroed");
        Assert.True(unlink < firstWrite, $"zeros were written (line {firstWrite}: {lines[firstWrite]}) before the name was removed (line {unlink}): a kill in between leaves a zeroed key file a later run reads as the key");
        Assert.Empty(Directory.GetFileSystemEntries(_keys));
    }

    [Fact]
    public void Unlock_removes_a_huge_sparse_file_without_filling_it_with_zeros()
    {
        var path = Path.Combine(_keys, "luks-huge.key");
        using (var file = File.Create(path))
        {
            file.SetLength(64L * 1024 * 1024);
        }

        using var witness = File.OpenHandle(path);

        var result = Unlock(_keys);

        Assert.Contains("larger than", Rejected(result)["luks-huge.key"], StringComparison.Ordinal);
        Assert.False(File.Exists(path));
        // SEEK_DATA from 16 MiB on: nothing was stored past the first megabytes (a key is at most 8 MiB).
        Assert.Equal(-1, LuksVirt.Interop.Interop.Libc.Lseek(witness, 16L * 1024 * 1024, 3));
    }

    [Fact]
    public void Unlock_refuses_a_symlinked_key_directory_even_with_a_trailing_slash()
    {
        File.WriteAllBytes(Path.Combine(_keys, "luks-alice.key"), new byte[64]);
        var link = _temp.PathOf("keys-link");
        File.CreateSymbolicLink(link, _keys);

        var result = LuksVirtCli.Run(Arguments(link + "/"));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"key directory {link} is a symbolic link", result.StandardError, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_keys, "luks-alice.key")));
    }

    [Fact]
    public void Unlock_refuses_a_key_directory_inside_a_directory_anyone_may_write()
    {
        var open = _temp.PathOf("open");
        var keys = Path.Combine(open, "keys");
        Directory.CreateDirectory(keys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(open, (UnixFileMode)0b111_111_111);
        File.WriteAllBytes(Path.Combine(keys, "luks-alice.key"), new byte[64]);

        var result = LuksVirtCli.Run(Arguments(keys));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"lies inside {open}, which is writable by group or others", result.StandardError, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(keys, "luks-alice.key")));
    }

    [Fact]
    public void Unlock_reports_a_directory_named_like_a_key_file_and_leaves_it_without_a_deletion_error()
    {
        Directory.CreateDirectory(Path.Combine(_keys, "luks-d.key"));
        File.WriteAllBytes(Path.Combine(_keys, "luks-good.key"), new byte[64]);

        var result = Unlock(_keys);

        Assert.Contains("is a directory", Rejected(result)["luks-d.key"], StringComparison.Ordinal);
        Assert.DoesNotContain("cannot delete", result.StandardError, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(_keys, "luks-d.key")));
        Assert.False(File.Exists(Path.Combine(_keys, "luks-good.key")));
    }

    private string[] Arguments(string keys) =>
    [
        "unlock", "--connect", "test:///default", "--keys", keys, "--config", _temp.PathOf("luksvirt.xml"), "--state", _temp.PathOf("state.json"),
        "--log", _temp.PathOf("luksvirt.log"), "--json",
    ];

    private ToolResult Unlock(string keys)
    {
        var result = LuksVirtCli.Run(Arguments(keys));
        Assert.True(result.ExitCode is 0 or 1, $"exit {result.ExitCode}: {result.StandardError}{result.StandardOutput}");
        return result;
    }

    private static Dictionary<string, string> Rejected(ToolResult result) =>
        JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("keys").GetProperty("rejected").EnumerateArray()
            .ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("reason").GetString()!);

    /// <summary>The first write(2) or pwrite64(2) through <paramref name="descriptor"/> after line
    /// <paramref name="open"/>, before it is closed; -1 when none.</summary>
    private static int FirstWriteThrough(string[] lines, int open, int descriptor)
    {
        var write = new Regex($@"\b(p?write(64)?)\({descriptor.ToString(CultureInfo.InvariantCulture)}, ");
        var close = new Regex($@"\bclose\({descriptor.ToString(CultureInfo.InvariantCulture)}\)");
        for (var i = open + 1; i < lines.Length; i++)
        {
            if (write.IsMatch(lines[i]))
            {
                return i;
            }

            if (close.IsMatch(lines[i]))
            {
                return -1;
            }
        }

        return -1;
    }

    private byte[] WriteOutside(string name, int length)
    {
        var content = new byte[length];
        Random.Shared.NextBytes(content);
        File.WriteAllBytes(_temp.PathOf(name), content);
        return content;
    }
}
