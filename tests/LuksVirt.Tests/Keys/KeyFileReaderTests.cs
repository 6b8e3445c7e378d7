using LuksVirt.Core.Keys;
using LuksVirt.Interop.Libc;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Keys;

/// <summary>
/// The one key-file reader, as the key directory (<see cref="KeyFileChecks.DroppedByRoot"/>) and
/// <c>--key-file</c> (<see cref="KeyFileChecks.AsGiven"/>) use it: a key is read byte for byte;
/// anything but a regular, non-empty file within the limit is refused without being opened or
/// read, and only the key directory refuses a second name.
/// </summary>
public sealed class KeyFileReaderTests : IDisposable
{
    private readonly TempDirectory _temp = new("keyfile");

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_regular_key_file_is_read_byte_for_byte(bool droppedByRoot)
    {
        var checks = ChecksFor(droppedByRoot);
        var path = _temp.PathOf("luks-alice.key");
        File.WriteAllBytes(path, [1, 2, 3, (byte)'\n']);

        var read = KeyFileReader.Read(path, checks);

        using var key = Assert.IsType<SecretBuffer>(read.Key);
        Assert.Equal([1, 2, 3, (byte)'\n'], key.Span.ToArray());
        Assert.Null(read.Refusal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_fifo_is_refused_without_waiting_for_a_writer(bool droppedByRoot)
    {
        var checks = ChecksFor(droppedByRoot);
        var fifo = _temp.PathOf("luks-fifo.key");
        ToolRunner.Run("mkfifo", fifo).EnsureSuccess("mkfifo");

        var read = KeyFileReader.Read(fifo, checks);

        Assert.Null(read.Key);
        Assert.Equal(KeyFileProblem.NotRegular, read.Refusal!.Problem);
        Assert.Equal("is a FIFO, not a regular file", read.Refusal.Reason(fifo));
    }

    [Fact]
    public void A_symbolic_link_is_refused_and_its_target_never_read()
    {
        var target = _temp.PathOf("target.key");
        File.WriteAllBytes(target, [1, 2, 3]);
        var link = _temp.PathOf("luks-link.key");
        File.CreateSymbolicLink(link, target);

        var read = KeyFileReader.Read(link, KeyFileChecks.AsGiven);

        Assert.Null(read.Key);
        Assert.Equal(PosixFileType.SymbolicLink, read.Refusal!.Stat.Type);
        Assert.Equal("is a symbolic link (not followed)", read.Refusal.Reason(link));
    }

    [Fact]
    public void Only_the_key_directory_refuses_a_file_with_a_second_name()
    {
        var backup = _temp.PathOf("backup.key");
        File.WriteAllBytes(backup, [1, 2, 3]);
        var path = _temp.PathOf("luks-alice.key");
        ToolRunner.Run("ln", backup, path).EnsureSuccess("ln");

        var dropped = KeyFileReader.Read(path, KeyFileChecks.DroppedByRoot);
        var given = KeyFileReader.Read(path, KeyFileChecks.AsGiven);

        Assert.Null(dropped.Key);
        Assert.Equal(KeyFileProblem.SeveralNames, dropped.Refusal!.Problem);
        Assert.Contains("has 2 names", dropped.Refusal.Reason(path), StringComparison.Ordinal);
        using var key = Assert.IsType<SecretBuffer>(given.Key);
        Assert.Equal(3, key.Length);
    }

    [Fact]
    public void Empty_and_oversized_files_are_refused_with_their_size()
    {
        var empty = _temp.PathOf("luks-empty.key");
        File.WriteAllBytes(empty, []);
        var huge = _temp.PathOf("luks-huge.key");
        using (var file = File.Create(huge))
        {
            file.SetLength(SecretBuffer.MaxKeyLength + 1L);
        }

        var emptyRead = KeyFileReader.Read(empty, KeyFileChecks.DroppedByRoot);
        var hugeRead = KeyFileReader.Read(huge, KeyFileChecks.DroppedByRoot);

        Assert.Equal("empty (0 bytes)", emptyRead.Refusal!.Reason(empty));
        Assert.Equal($"larger than {SecretBuffer.MaxKeyLength} bytes ({SecretBuffer.MaxKeyLength + 1L} bytes)", hugeRead.Refusal!.Reason(huge));
        Assert.Null(hugeRead.Key);
    }

    [Fact]
    public void A_missing_file_is_refused_as_missing()
    {
        var read = KeyFileReader.Read(_temp.PathOf("luks-gone.key"), KeyFileChecks.AsGiven);

        Assert.Equal(KeyFileProblem.Missing, read.Refusal!.Problem);
    }

    /// <summary>KeyFileChecks is internal to Core: theories name it by a flag.</summary>
    private static KeyFileChecks ChecksFor(bool droppedByRoot) => droppedByRoot ? KeyFileChecks.DroppedByRoot : KeyFileChecks.AsGiven;
}
