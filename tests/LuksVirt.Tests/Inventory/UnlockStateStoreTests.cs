using System.Text.Json;
using LuksVirt.Core.State;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Inventory;

public sealed class UnlockStateStoreTests
{
    private static readonly DiskUnlockRecord First =
        new("/crypt/a.luks", Guid.Parse("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"), "alice", 1, new DateTimeOffset(2025, 3, 4, 5, 6, 7, TimeSpan.Zero));

    private static readonly DiskUnlockRecord Second =
        new("/dev/vg1/b.crypted", null, null, 7, new DateTimeOffset(2025, 3, 4, 8, 6, 7, TimeSpan.FromHours(2)));

    [Fact]
    public void Default_path_is_under_var_lib() =>
        Assert.Equal("/var/lib/luksvirt/state.json", new UnlockStateStore().FilePath);

    [Fact]
    public void Save_then_load_round_trips_in_utc_with_a_0600_file_in_a_0700_directory()
    {
        using var directory = new TempDirectory("state");
        var store = new UnlockStateStore(directory.PathOf("lib/luksvirt/state.json"));

        store.Save(UnlockState.Empty.With(First).With(Second));
        var loaded = store.Load();

        Assert.Null(loaded.Warning);
        Assert.Equal(2, loaded.State.Disks.Count);
        Assert.Equal(First, loaded.State.Disks["/crypt/a.luks"]);
        var second = loaded.State.Disks["/dev/vg1/b.crypted"];
        Assert.Equal(Second.OpenedAtUtc, second.OpenedAtUtc); // same instant...
        Assert.Equal(TimeSpan.Zero, second.OpenedAtUtc.Offset); // ...written in UTC
        Assert.Equal((Guid?)null, second.LuksUuid);
        Assert.Null(second.Holder);
        Assert.Equal(7, second.Slot);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.FilePath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory.PathOf("lib/luksvirt")));
        Assert.Equal(["state.json"], Directory.GetFileSystemEntries(directory.PathOf("lib/luksvirt")).Select(Path.GetFileName));
    }

    [Fact]
    public void The_last_run_round_trips_and_a_file_without_one_has_none()
    {
        using var directory = new TempDirectory("state");
        var store = new UnlockStateStore(directory.PathOf("state.json"));
        var run = new UnlockRunRecord(new DateTimeOffset(2026, 12, 5, 8, 0, 0, TimeSpan.FromHours(1)), AllGuestsRunning: false, GuestsRunning: 2, GuestsInScope: 3);

        store.Save(UnlockState.Empty.With(First).WithLastRun(run));
        var loaded = store.Load();

        Assert.Null(loaded.Warning);
        Assert.Equal(run.FinishedAtUtc, loaded.State.LastRun!.FinishedAtUtc);
        Assert.Equal(TimeSpan.Zero, loaded.State.LastRun.FinishedAtUtc.Offset);
        Assert.Equal((false, 2, 3), (loaded.State.LastRun.AllGuestsRunning, loaded.State.LastRun.GuestsRunning, loaded.State.LastRun.GuestsInScope));
        Assert.Equal(First, loaded.State.With(Second).Disks["/crypt/a.luks"]);
        Assert.NotNull(loaded.State.With(Second).LastRun);

        store.Save(UnlockState.Empty.With(First));
        Assert.Null(store.Load().State.LastRun);
    }

    [Fact]
    public void An_incomplete_last_run_record_makes_the_file_corrupt()
    {
        using var directory = new TempDirectory("state");
        var store = new UnlockStateStore(directory.PathOf("state.json"));
        File.WriteAllText(store.FilePath, """{"version":1,"disks":[],"lastRun":{"finishedAtUtc":"2026-12-05T08:00:00+00:00"}}""");

        var loaded = store.Load();

        Assert.Contains("the last run's record is incomplete", loaded.Warning, StringComparison.Ordinal);
        Assert.Null(loaded.State.LastRun);
    }

    [Fact]
    public void The_file_holds_exactly_the_documented_fields()
    {
        using var directory = new TempDirectory("state");
        var store = new UnlockStateStore(directory.PathOf("state.json"));
        store.Save(UnlockState.Empty.With(First));

        using var json = JsonDocument.Parse(File.ReadAllBytes(store.FilePath));

        Assert.Equal(["version", "disks"], json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, json.RootElement.GetProperty("version").GetInt32());
        var disk = Assert.Single(json.RootElement.GetProperty("disks").EnumerateArray());
        Assert.Equal(["container", "luksUuid", "holder", "slot", "openedAtUtc"], disk.EnumerateObject().Select(p => p.Name));
        Assert.Equal("2025-03-04T05:06:07+00:00", disk.GetProperty("openedAtUtc").GetString());
    }

    [Fact]
    public void Saving_again_replaces_the_record_of_a_container_and_leaves_no_temporary_file()
    {
        using var directory = new TempDirectory("state");
        var store = new UnlockStateStore(directory.PathOf("state.json"));
        store.Save(UnlockState.Empty.With(First));

        var reopened = First with { Holder = "bob", Slot = 2 };
        store.Save(store.Load().State.With(reopened));

        Assert.Equal(reopened, Assert.Single(store.Load().State.Disks).Value);
        Assert.Equal([store.FilePath], Directory.GetFileSystemEntries(directory.Path));
    }

    [Fact]
    public void Save_replaces_a_planted_symlink_instead_of_writing_through_it()
    {
        using var directory = new TempDirectory("state");
        var victim = directory.PathOf("victim");
        File.WriteAllText(victim, "precious");
        var store = new UnlockStateStore(directory.PathOf("state.json"));
        File.CreateSymbolicLink(store.FilePath, victim);

        store.Save(UnlockState.Empty.With(First));

        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.Null(new FileInfo(store.FilePath).LinkTarget);
        Assert.Equal(First, Assert.Single(store.Load().State.Disks).Value);
    }

    [Fact]
    public void A_missing_file_is_an_empty_state_without_warning()
    {
        using var directory = new TempDirectory("state");
        var loaded = new UnlockStateStore(directory.PathOf("absent/state.json")).Load();

        Assert.Empty(loaded.State.Disks);
        Assert.Null(loaded.Warning);
    }

    [Theory]
    [InlineData("{\"version\":1,\"disks\":[")]
    [InlineData("not json at all")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("{\"version\":2,\"disks\":[]}")]
    [InlineData("{\"version\":1}")]
    [InlineData("{\"version\":1,\"disks\":[{\"container\":\"/a\",\"openedAtUtc\":\"2025-01-01T00:00:00+00:00\"}]}")]
    [InlineData("{\"version\":1,\"disks\":[{\"container\":\"/a\",\"slot\":-1,\"openedAtUtc\":\"2025-01-01T00:00:00+00:00\"}]}")]
    [InlineData("{\"version\":1,\"disks\":[{\"container\":\"/a\",\"slot\":1,\"openedAtUtc\":\"2025-01-01T00:00:00+00:00\"},{\"container\":\"/a\",\"slot\":2,\"openedAtUtc\":\"2025-01-01T00:00:00+00:00\"}]}")]
    [InlineData("{\"version\":1,\"disks\":[{\"container\":\"/a\",\"slot\":\"one\",\"openedAtUtc\":\"2025-01-01T00:00:00+00:00\"}]}")]
    public void A_corrupt_file_gives_an_empty_state_and_is_kept_for_the_admin(string content)
    {
        using var directory = new TempDirectory("state");
        var store = new UnlockStateStore(directory.PathOf("state.json"));
        File.WriteAllText(store.FilePath, content);

        var loaded = store.Load();

        Assert.Empty(loaded.State.Disks);
        Assert.NotNull(loaded.Warning);
        Assert.StartsWith($"the state file {store.FilePath} is corrupt (", loaded.Warning, StringComparison.Ordinal);
        Assert.EndsWith($"; it was kept as {store.FilePath}.corrupt; starting with an empty state", loaded.Warning, StringComparison.Ordinal);
        Assert.False(File.Exists(store.FilePath));
        Assert.Equal(content, File.ReadAllText(store.CorruptFilePath));

        // The next save starts a clean file; the corrupt copy stays.
        store.Save(loaded.State.With(First));
        Assert.Null(store.Load().Warning);
        Assert.Equal(content, File.ReadAllText(store.CorruptFilePath));
    }

    [Fact]
    public void A_file_over_the_size_limit_is_corrupt()
    {
        using var directory = new TempDirectory("state");
        var store = new UnlockStateStore(directory.PathOf("state.json"));
        using (var file = File.Create(store.FilePath))
        {
            file.SetLength(UnlockStateStore.MaxFileBytes + 1);
        }

        var loaded = store.Load();

        Assert.Empty(loaded.State.Disks);
        Assert.Contains($"is corrupt (it is {UnlockStateStore.MaxFileBytes + 1} bytes, more than {UnlockStateStore.MaxFileBytes})", loaded.Warning, StringComparison.Ordinal);
        Assert.True(File.Exists(store.CorruptFilePath));
    }

    [Fact]
    public void Unknown_fields_from_a_newer_writer_are_ignored()
    {
        using var directory = new TempDirectory("state");
        var store = new UnlockStateStore(directory.PathOf("state.json"));
        File.WriteAllText(store.FilePath, "{\"version\":1,\"host\":\"h\",\"disks\":[{\"container\":\"/a\",\"slot\":3,\"openedAtUtc\":\"2025-01-01T00:00:00Z\",\"note\":\"x\"}]}");

        var loaded = store.Load();

        Assert.Null(loaded.Warning);
        Assert.Equal(new DiskUnlockRecord("/a", null, null, 3, new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero)), Assert.Single(loaded.State.Disks).Value);
    }

    [Fact]
    public async Task A_fifo_at_the_path_is_no_state_read_at_once_and_left_alone()
    {
        using var directory = new TempDirectory("state");
        var store = new UnlockStateStore(directory.PathOf("state.json"));
        ToolRunner.Run("mkfifo", store.FilePath).EnsureSuccess("mkfifo");

        // A blocking open would wait for a writer: the test writes once itself so that a
        // regression fails instead of hanging.
        var load = Task.Run(store.Load);
        if (await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(20))) != load)
        {
            using var writer = new FileStream(store.FilePath, FileMode.Open, FileAccess.Write);
            Assert.Fail("loading a FIFO as the state file blocked");
        }

        var loaded = await load;
        Assert.Empty(loaded.State.Disks);
        Assert.Equal($"cannot use the state file: {store.FilePath} is a FIFO, not a regular file; starting with an empty state", loaded.Warning);
        Assert.Equal("fifo", ToolRunner.Run("stat", "-c", "%F", store.FilePath).StandardOutput.Trim());
        Assert.False(File.Exists(store.CorruptFilePath));
        Assert.Equal($"state file {store.FilePath} is a FIFO, not a regular file; name a regular file (or a path that does not exist yet) with --state", store.CheckPath());
    }

    [Fact]
    public void A_symlink_at_the_path_is_not_followed_when_loading()
    {
        using var directory = new TempDirectory("state");
        var elsewhere = directory.PathOf("elsewhere.json");
        var good = new UnlockStateStore(elsewhere);
        good.Save(UnlockState.Empty.With(First));
        var store = new UnlockStateStore(directory.PathOf("state.json"));
        File.CreateSymbolicLink(store.FilePath, elsewhere);

        var loaded = store.Load();

        Assert.Empty(loaded.State.Disks);
        Assert.StartsWith($"cannot use the state file: {store.FilePath} is a symbolic link", loaded.Warning, StringComparison.Ordinal);
        Assert.Equal(elsewhere, new FileInfo(store.FilePath).LinkTarget);
        Assert.Equal($"state file {store.FilePath} is a symbolic link, which LuksVirt does not follow; name the real file with --state, or remove the link", store.CheckPath());
    }

    [Fact]
    public void A_regular_or_absent_file_passes_the_path_check()
    {
        using var directory = new TempDirectory("state");
        var store = new UnlockStateStore(directory.PathOf("absent/state.json"));
        Assert.Null(store.CheckPath());

        store.Save(UnlockState.Empty.With(First));
        Assert.Null(store.CheckPath());
    }
}
