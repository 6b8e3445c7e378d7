using LuksVirt.Core.Activation;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Unlock;

/// <summary>
/// The dmcrypt link (hostile review item 26): made through a descriptor of its directory, never
/// over anything but a symbolic link, also when the directory changes between the steps, and no
/// temporary link left behind by any failure. Real faults where the file system gives them (an
/// immutable or append-only directory, chattr); a probe between the steps for the races.
/// </summary>
public sealed class DeviceLinkTests : IDisposable
{
    private const string Device = "/dev/mapper/luks-web-d0.raw.decrypted";
    private readonly TempDirectory _directory = new("link");

    public void Dispose() => _directory.Dispose();

    private string LinkPath => _directory.PathOf("web-d0.raw.decrypted");

    [Fact]
    public void A_missing_link_is_made_and_a_link_pointing_elsewhere_is_replaced()
    {
        Assert.Equal(LinkState.Missing, DeviceLink.Inspect(LinkPath, Device));

        DeviceLink.Replace(LinkPath, Device);

        Assert.Equal(Device, File.ResolveLinkTarget(LinkPath, returnFinalTarget: false)!.FullName);
        Assert.Equal(LinkState.PointsAtDevice, DeviceLink.Inspect(LinkPath, Device));

        File.Delete(LinkPath);
        File.CreateSymbolicLink(LinkPath, "/dev/mapper/luks-stale");
        Assert.Equal(LinkState.PointsElsewhere, DeviceLink.Inspect(LinkPath, Device));

        DeviceLink.Replace(LinkPath, Device);

        Assert.Equal(Device, File.ResolveLinkTarget(LinkPath, returnFinalTarget: false)!.FullName);
        Assert.Equal(["web-d0.raw.decrypted"], Entries());
    }

    [Fact]
    public void A_file_or_directory_at_the_link_path_is_refused_and_left_as_it_is()
    {
        File.WriteAllText(LinkPath, "the administrator's data");

        var error = Assert.Throws<ActivationException>(() => DeviceLink.Replace(LinkPath, Device));

        Assert.Contains("is not a symbolic link", error.Message, StringComparison.Ordinal);
        Assert.Equal("the administrator's data", File.ReadAllText(LinkPath));
        Assert.Equal(LinkState.NotALink, DeviceLink.Inspect(LinkPath, Device));
        Assert.NotNull(DeviceLink.Refusal(LinkPath));
        Assert.Equal(["web-d0.raw.decrypted"], Entries());
    }

    [Fact]
    public void A_file_put_at_the_link_path_after_the_first_check_is_refused_and_the_temporary_link_removed()
    {
        var probe = new Probe { BeforeRecheckAction = () => File.WriteAllText(LinkPath, "arrived late") };

        var error = Assert.Throws<ActivationException>(() => DeviceLink.Replace(LinkPath, Device, probe));

        Assert.Contains("is not a symbolic link", error.Message, StringComparison.Ordinal);
        Assert.Equal("arrived late", File.ReadAllText(LinkPath));
        Assert.Equal(["web-d0.raw.decrypted"], Entries());
    }

    [Fact]
    public void A_rename_that_fails_leaves_no_temporary_link()
    {
        // A non-empty directory put there after the last check: renameat fails (EISDIR).
        var probe = new Probe
        {
            BeforeRenameAction = () =>
            {
                Directory.CreateDirectory(LinkPath);
                File.WriteAllText(Path.Combine(LinkPath, "inside"), "kept");
            },
        };

        Assert.ThrowsAny<IOException>(() => DeviceLink.Replace(LinkPath, Device, probe));

        Assert.Equal("kept", File.ReadAllText(Path.Combine(LinkPath, "inside")));
        Assert.Equal(["web-d0.raw.decrypted"], Entries());
    }

    [Fact]
    public void An_immutable_link_directory_refuses_the_link_and_leaves_nothing()
    {
        using (Chattr("+i"))
        {
            Assert.Throws<UnauthorizedAccessException>(() => DeviceLink.Replace(LinkPath, Device));
        }

        Assert.Empty(Entries());
    }

    [Fact]
    public void An_append_only_link_directory_names_the_temporary_link_it_could_not_remove()
    {
        // symlinkat works there, renameat and unlinkat do not: the one case where the temporary
        // link must stay, and the error says where it is.
        using (Chattr("+a"))
        {
            var error = Assert.Throws<ActivationException>(() => DeviceLink.Replace(LinkPath, Device));

            var temporary = Assert.Single(Entries());
            Assert.StartsWith(".web-d0.raw.decrypted.luksvirt-", temporary, StringComparison.Ordinal);
            Assert.Contains(temporary, error.Message, StringComparison.Ordinal);
            Assert.Contains("remove it by hand", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Only_a_link_to_the_device_is_removed()
    {
        File.CreateSymbolicLink(LinkPath, "/dev/mapper/luks-other");
        Assert.False(DeviceLink.RemoveIfPointsAt(LinkPath, Device));
        Assert.Equal(LinkState.PointsElsewhere, DeviceLink.Inspect(LinkPath, Device));

        File.Delete(LinkPath);
        File.WriteAllText(LinkPath, "data");
        Assert.False(DeviceLink.RemoveIfPointsAt(LinkPath, Device));
        Assert.Equal("data", File.ReadAllText(LinkPath));

        File.Delete(LinkPath);
        File.CreateSymbolicLink(LinkPath, Device);
        Assert.True(DeviceLink.RemoveIfPointsAt(LinkPath, Device));
        Assert.Empty(Entries());
        Assert.False(DeviceLink.RemoveIfPointsAt(LinkPath, Device));
    }

    [Fact]
    public void A_missing_directory_is_named_and_a_symbolic_link_to_a_directory_is_followed_once()
    {
        var inMissing = _directory.PathOf("missing/web-d0.raw.decrypted");
        Assert.Contains("does not exist", DeviceLink.Refusal(inMissing) ?? "", StringComparison.Ordinal);
        Assert.Equal(LinkState.Missing, DeviceLink.Inspect(inMissing, Device));
        Assert.Contains("does not exist", Assert.Throws<ActivationException>(() => DeviceLink.Replace(inMissing, Device)).Message, StringComparison.Ordinal);

        // e.g. /var/lib/libvirt/images moved to a bigger disk and linked back.
        var real = Directory.CreateDirectory(_directory.PathOf("real")).FullName;
        var linked = _directory.PathOf("images");
        File.CreateSymbolicLink(linked, real);

        DeviceLink.Replace(Path.Combine(linked, "web-d0.raw.decrypted"), Device);

        Assert.Equal(Device, File.ResolveLinkTarget(Path.Combine(real, "web-d0.raw.decrypted"), returnFinalTarget: false)!.FullName);
    }

    private List<string> Entries() => Directory.EnumerateFileSystemEntries(_directory.Path).Select(e => Path.GetFileName(e)!).Order(StringComparer.Ordinal).ToList();

    /// <summary>chattr on the test directory (ext4 as root), undone on dispose.</summary>
    private Undo Chattr(string flag)
    {
        ToolRunner.Run("chattr", flag, _directory.Path).EnsureSuccess("chattr " + flag);
        return new Undo(() => ToolRunner.Run("chattr", "-" + flag[1..], _directory.Path).EnsureSuccess("chattr -" + flag[1..]));
    }

    private sealed class Undo(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    private sealed class Probe : ILinkReplacementProbe
    {
        public Action BeforeRecheckAction { get; init; } = () => { };

        public Action BeforeRenameAction { get; init; } = () => { };

        public void BeforeRecheck() => BeforeRecheckAction();

        public void BeforeRename() => BeforeRenameAction();
    }
}
