using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Tests.Cryptsetup;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Migration;

namespace LuksVirt.Tests.Containers;

/// <summary>
/// What <c>create</c> refuses (reliability.md, bad input 8 and 15; security 8): every refusal
/// exits 2 before the first change, so the target, the key directory and the domain are
/// byte for byte as before.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class CreateRefusalTests(LibvirtdFixture libvirtd) : IDisposable
{
    private readonly GuestLab _lab = new(libvirtd, "create-refusal");

    public void Dispose() => _lab.Dispose();

    [Fact]
    public void An_existing_file_is_refused_without_force()
    {
        var name = Guest();
        var file = _lab.Directory.PathOf("data.img");
        var sha = GuestLab.WriteRandomFile(file, 4 << 20);
        var xml = _lab.InactiveXml(name);

        var result = Create(name, file);

        Assert.True(result.ExitCode == 2, result.StandardError);
        Assert.Contains("--force", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(sha, GuestLab.Sha256(file));
        Assert.False(Directory.Exists(_lab.KeysOut));
        Assert.Equal(xml, _lab.InactiveXml(name));
    }

    [Fact]
    public void An_existing_luks_container_is_refused_without_force_and_named_as_such()
    {
        var name = Guest();
        var container = _lab.Directory.PathOf("old.luks");
        Assert.Equal(0, Create(name, container).ExitCode);
        var sha = GuestLab.Sha256(container);
        var otherKeys = _lab.Directory.PathOf("other-keys");

        var result = _lab.Luksvirt("create", "--vm", name, "--disk", container, "--size", "8M", "--backend", "native", "--keys-out", otherKeys);

        Assert.True(result.ExitCode == 2, result.StandardError);
        Assert.Contains("LUKS1 container", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(sha, GuestLab.Sha256(container));
        Assert.False(Directory.Exists(otherKeys));
    }

    [Fact]
    public void An_existing_key_file_is_refused_before_anything_is_formatted()
    {
        var name = Guest();
        Directory.CreateDirectory(_lab.KeysOut);
        var keyFile = Path.Combine(_lab.KeysOut, "luks-alice.0.key");
        File.WriteAllText(keyFile, "a key someone already holds");
        var container = _lab.Directory.PathOf("new.luks");
        var xml = _lab.InactiveXml(name);

        var result = Create(name, container, "--holder", "alice");

        Assert.True(result.ExitCode == 2, result.StandardError);
        Assert.Contains(keyFile, result.StandardError, StringComparison.Ordinal);
        Assert.Equal("a key someone already holds", File.ReadAllText(keyFile));
        Assert.Equal([keyFile], Directory.GetFiles(_lab.KeysOut));
        Assert.False(File.Exists(container));
        Assert.Equal(xml, _lab.InactiveXml(name));
    }

    [Fact]
    public void A_symbolic_link_as_keys_out_is_refused()
    {
        var name = Guest();
        var real = _lab.Directory.PathOf("real-keys");
        Directory.CreateDirectory(real);
        var link = _lab.Directory.PathOf("linked-keys");
        File.CreateSymbolicLink(link, real);
        var container = _lab.Directory.PathOf("new.luks");

        var result = _lab.Luksvirt("create", "--vm", name, "--disk", container, "--size", "8M", "--backend", "native", "--keys-out", link);

        Assert.True(result.ExitCode == 2, result.StandardError);
        Assert.Empty(Directory.GetFiles(real));
        Assert.False(File.Exists(container));
    }

    [Fact]
    public void A_device_holding_data_is_refused_without_force_and_formatted_with_it()
    {
        var name = Guest();
        var backing = _lab.Directory.PathOf("loop.img");
        var sha = GuestLab.WriteRandomFile(backing, 8 << 20);
        var device = ToolRunner.Run("losetup", "--find", "--show", backing).EnsureSuccess("losetup").StandardOutput.Trim();
        try
        {
            var xml = _lab.InactiveXml(name);

            var refused = _lab.Luksvirt("create", "--vm", name, "--disk", device, "--backend", "native", "--keys-out", _lab.KeysOut);

            Assert.True(refused.ExitCode == 2, refused.StandardError);
            Assert.Contains("holds data", refused.StandardError, StringComparison.Ordinal);
            Assert.Equal(sha, GuestLab.Sha256(backing));
            Assert.Equal(xml, _lab.InactiveXml(name));
            Assert.False(Directory.Exists(_lab.KeysOut));

            var forced = _lab.Luksvirt("create", "--vm", name, "--disk", device, "--backend", "native", "--keys-out", _lab.KeysOut, "--force", "--json");

            Assert.True(forced.ExitCode == 0, forced.StandardError + forced.StandardOutput);
            Assert.True(CryptsetupCli.IsLuks(device, LuksVersion.Luks1));
            var disk = _lab.Disk(name, "vda");
            Assert.Equal("block", (string?)disk.Attribute("type"));
            Assert.Equal(device, (string?)disk.Element("source")!.Attribute("dev"));
            Assert.Contains(GuestLab.Json(forced).GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("stays readable", StringComparison.Ordinal));
        }
        finally
        {
            ToolRunner.Run("losetup", "--detach", device);
        }
    }

    [Fact]
    public void A_logical_volume_that_cannot_be_created_leaves_nothing_behind()
    {
        // Without device-mapper (this build machine) lvcreate is missing or fails; either way
        // the error is LVM's and nothing is written. The lab VM runs the LV path for real.
        var name = Guest();
        var xml = _lab.InactiveXml(name);

        var result = _lab.Luksvirt("create", "--vm", name, "--disk", "lvt-no-such-vg/web-d0", "--size", "8M", "--backend", "native", "--keys-out", _lab.KeysOut);

        Assert.True(result.ExitCode == 1, result.StandardError);
        Assert.Matches("lvm2|lvcreate", result.StandardError);
        Assert.False(Directory.Exists(_lab.KeysOut));
        Assert.Equal(xml, _lab.InactiveXml(name));
    }

    private string Guest()
    {
        var name = _lab.NewGuestName("ref");
        _lab.DefineGuest(name);
        return name;
    }

    private ToolResult Create(string guest, string disk, params string[] extra) =>
        _lab.Luksvirt(["create", "--vm", guest, "--disk", disk, "--size", "8M", "--backend", "native", "--keys-out", _lab.KeysOut, .. extra]);
}
