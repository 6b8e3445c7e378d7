using LuksVirt.Core.Containers;
using LuksVirt.Core.Holders;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Libc;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Containers;

/// <summary>
/// The holders' key files (<c>--keys-out</c>) go into the directory that was checked, through its
/// descriptor, and the rollback removes exactly the files written (issue 10, item 26).
/// </summary>
public sealed class CustodianKeyFilesTests : IDisposable
{
    private readonly TempDirectory _temp = new("custodian");
    private readonly KeySlotLayout _layout = KeySlotLayout.Plan(["alice"], LuksVersion.Luks2);

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Keys_are_written_0600_into_the_checked_directory()
    {
        var output = Directory.CreateDirectory(_temp.PathOf("out")).FullName;
        var files = CustodianKeyFiles.Prepare(output + "/", _layout.Keys);
        using var keys = GeneratedKeys.Generate(_layout);

        files.WriteAll(keys);

        Assert.Equal(output, files.Directory);
        Assert.Equal(["luks-alice.0.key", "luks-recovery.31.key"], Entries(output));
        Assert.True(File.ReadAllBytes(Path.Combine(output, "luks-alice.0.key")).AsSpan().SequenceEqual(keys.Keys[0].Secret.Span));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(output, "luks-alice.0.key")));
    }

    [Fact]
    public void A_symlinked_directory_is_refused_even_with_a_trailing_slash()
    {
        var real = Directory.CreateDirectory(_temp.PathOf("real")).FullName;
        var link = _temp.PathOf("link");
        File.CreateSymbolicLink(link, real);

        var e = Assert.Throws<ContainerRefusedException>(() => CustodianKeyFiles.Prepare(link + "/", _layout.Keys));

        Assert.Contains($"--keys-out {link} is a symbolic link", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_directory_swapped_for_a_symbolic_link_after_the_check_gets_no_key()
    {
        var output = Directory.CreateDirectory(_temp.PathOf("out")).FullName;
        var elsewhere = Directory.CreateDirectory(_temp.PathOf("elsewhere")).FullName;
        var files = CustodianKeyFiles.Prepare(output, _layout.Keys);
        using var keys = GeneratedKeys.Generate(_layout);
        Directory.Move(output, _temp.PathOf("out-moved"));
        File.CreateSymbolicLink(output, elsewhere);

        Assert.Throws<SymbolicLinkRefusedException>(() => files.WriteAll(keys));

        Assert.Empty(Entries(elsewhere));
        Assert.Empty(Entries(_temp.PathOf("out-moved")));
    }

    [Fact]
    public void A_directory_replaced_by_another_after_the_check_gets_no_key()
    {
        var output = Directory.CreateDirectory(_temp.PathOf("out")).FullName;
        var files = CustodianKeyFiles.Prepare(output, _layout.Keys);
        using var keys = GeneratedKeys.Generate(_layout);
        Directory.Move(output, _temp.PathOf("out-moved"));
        Directory.CreateDirectory(output);

        var e = Assert.Throws<IOException>(() => files.WriteAll(keys));

        Assert.Contains("replaced", e.Message, StringComparison.Ordinal);
        Assert.Empty(Entries(output));
    }

    [Fact]
    public void RemoveWritten_removes_only_the_files_written_and_never_writes_through_a_second_name()
    {
        var output = Directory.CreateDirectory(_temp.PathOf("out")).FullName;
        var files = CustodianKeyFiles.Prepare(output, _layout.Keys);
        using var keys = GeneratedKeys.Generate(_layout);
        files.WriteAll(keys);
        // The holder copied alice's key away as a hard link, and the recovery file was replaced.
        var alice = File.ReadAllBytes(Path.Combine(output, "luks-alice.0.key"));
        ToolRunner.Run("ln", Path.Combine(output, "luks-alice.0.key"), _temp.PathOf("alice-copy.key")).EnsureSuccess("ln");
        File.Delete(Path.Combine(output, "luks-recovery.31.key"));
        File.WriteAllText(Path.Combine(output, "luks-recovery.31.key"), "someone else's");

        files.RemoveWritten();

        Assert.Equal(alice, File.ReadAllBytes(_temp.PathOf("alice-copy.key")));
        Assert.Equal("someone else's", File.ReadAllText(Path.Combine(output, "luks-recovery.31.key")));
        Assert.Empty(files.Written);
    }

    [Fact]
    public void RemoveWritten_removes_the_names_and_zeroes_the_files()
    {
        var output = _temp.PathOf("new-out");   // created by WriteAll
        var files = CustodianKeyFiles.Prepare(output, _layout.Keys);
        using var keys = GeneratedKeys.Generate(_layout);
        files.WriteAll(keys);
        using var witness = File.OpenHandle(Path.Combine(output, "luks-alice.0.key"));

        files.RemoveWritten();

        Assert.Empty(Entries(output));
        var content = new byte[GeneratedKeys.KeyCharacters];
        Assert.Equal(content.Length, RandomAccess.Read(witness, content, 0));
        Assert.All(content, b => Assert.Equal(0, b));
    }

    private static string[] Entries(string directory) =>
        [.. Directory.GetFileSystemEntries(directory).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal)];
}
