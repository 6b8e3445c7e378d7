using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Service;

/// <summary>
/// packaging/install.sh into a staging tree (DESTDIR: nothing on this host is touched), the
/// installed units checked by systemd's own verifier, the udev rule's contract, and the sample
/// configuration loaded by luksvirt.
/// </summary>
public sealed class PackagingTests : IDisposable
{
    private static readonly string Repository = FindRepository();
    private readonly TempDirectory _directory = new("packaging");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Install_puts_binary_units_sample_config_and_docs_in_place_with_tight_modes()
    {
        var root = _directory.PathOf("root");
        var binary = FakeBinary();

        Install(root, "--binary", binary).EnsureSuccess("install.sh");

        Assert.Equal(File.ReadAllBytes(binary), File.ReadAllBytes(Path.Combine(root, "usr/local/bin/luksvirt")));
        Assert.Equal("755", Mode(root, "usr/local/bin/luksvirt"));
        Assert.Equal("644", Mode(root, "etc/systemd/system/luksvirt.service"));
        Assert.Equal("644", Mode(root, "etc/systemd/system/luksvirt-usb@.service"));
        Assert.Equal("700", Mode(root, "etc/luksvirt"));
        Assert.Equal("600", Mode(root, "etc/luksvirt/luksvirt.xml.sample"));
        Assert.Equal("700", Mode(root, "var/lib/luksvirt"));
        Assert.Equal("600", Mode(root, "var/log/luksvirt.log"));
        Assert.True(File.Exists(Path.Combine(root, "usr/local/share/doc/luksvirt/usb-and-service.md")));
        Assert.False(File.Exists(Path.Combine(root, "etc/luksvirt/luksvirt.xml")), "the sample must not become the configuration");
        Assert.False(Directory.Exists(Path.Combine(root, "etc/udev")), "the udev rule is installed only with --udev");
    }

    [Fact]
    public void Install_with_udev_and_a_prefix_adds_the_rule_and_rewrites_the_unit_paths_and_a_rerun_keeps_the_log()
    {
        var root = _directory.PathOf("root");
        Install(root, "--binary", FakeBinary(), "--udev", "--prefix", "/opt/luksvirt").EnsureSuccess("install.sh");
        File.AppendAllText(Path.Combine(root, "var/log/luksvirt.log"), "earlier line\n");

        Install(root, "--binary", FakeBinary(), "--udev", "--prefix", "/opt/luksvirt").EnsureSuccess("install.sh again");

        Assert.Equal("644", Mode(root, "etc/udev/rules.d/99-luksvirt-usb.rules"));
        Assert.Contains("ExecStart=/opt/luksvirt/bin/luksvirt watch", File.ReadAllText(Path.Combine(root, "etc/systemd/system/luksvirt.service")), StringComparison.Ordinal);
        Assert.Contains("ExecStart=/opt/luksvirt/bin/luksvirt usb /dev/%I", File.ReadAllText(Path.Combine(root, "etc/systemd/system/luksvirt-usb@.service")), StringComparison.Ordinal);
        Assert.Equal("earlier line\n", File.ReadAllText(Path.Combine(root, "var/log/luksvirt.log")));
    }

    [Fact]
    public void Install_refuses_a_missing_binary_and_unknown_options()
    {
        var root = _directory.PathOf("root");

        Assert.Equal(2, Install(root, "--binary", _directory.PathOf("missing")).ExitCode);
        Assert.Equal(2, Install(root, "--binary", FakeBinary(), "--bogus").ExitCode);
        Assert.Equal(2, Install(root, "--binary", FakeBinary(), "--prefix", "relative").ExitCode);
        Assert.False(Directory.Exists(root));
    }

    [Theory]
    [InlineData("luksvirt.service", "luksvirt.service")]
    [InlineData("luksvirt-usb@.service", "luksvirt-usb@sdb.service")]
    public void Systemd_verifies_the_units_without_a_complaint(string unit, string instance)
    {
        var root = _directory.PathOf("root");
        Install(root, "--binary", FakeBinary()).EnsureSuccess("install.sh");
        // The verifier checks that ExecStart exists, on this host: point it into the staging tree.
        var text = File.ReadAllText(Path.Combine(root, "etc/systemd/system", unit)).Replace("/usr/local/bin/luksvirt", Path.Combine(root, "usr/local/bin/luksvirt"), StringComparison.Ordinal);
        var checkedUnit = _directory.PathOf(instance);
        File.WriteAllText(checkedUnit, text);

        var result = ToolRunner.Run("systemd-analyze", "verify", checkedUnit);

        Assert.True(result.ExitCode == 0 && result.StandardError.Length == 0 && result.StandardOutput.Length == 0, result.StandardError + result.StandardOutput);
        Assert.Contains("Environment=DOTNET_EnableDiagnostics=0", text, StringComparison.Ordinal);
        Assert.Contains("LimitCORE=0", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_udev_rule_only_asks_systemd_for_the_template_unit_for_usb_disks()
    {
        var rules = File.ReadAllLines(Path.Combine(Repository, "packaging/99-luksvirt-usb.rules"))
            .Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();

        var rule = Assert.Single(rules);
        Assert.DoesNotContain("RUN", rule, StringComparison.Ordinal);
        Assert.Contains("ENV{SYSTEMD_WANTS}+=\"luksvirt-usb@%k.service\"", rule, StringComparison.Ordinal);
        Assert.Contains("SUBSYSTEMS==\"usb\"", rule, StringComparison.Ordinal);
        Assert.Contains("ENV{DEVTYPE}==\"disk\"", rule, StringComparison.Ordinal);
    }

    [Fact]
    public void The_sample_configuration_loads()
    {
        var sample = Path.Combine(Repository, "packaging/luksvirt.xml.sample");

        var result = LuksVirtCli.Run("status", "--config", sample, "--json");

        // 2 would be a configuration error; 1 only says some guest on this host has a problem.
        Assert.True(result.ExitCode is 0 or 1, result.StandardError + result.StandardOutput);
        Assert.DoesNotContain(sample, result.StandardError, StringComparison.Ordinal);
    }

    private static ToolResult Install(string root, params string[] arguments) =>
        ToolRunner.Run("bash", [Path.Combine(Repository, "packaging/install.sh"), .. arguments], environment: new Dictionary<string, string> { ["DESTDIR"] = root });

    private string FakeBinary()
    {
        var path = _directory.PathOf("luksvirt-stand-in");
        if (!File.Exists(path))
        {
            File.WriteAllText(path, "#!/bin/sh\nexit 0\n");
            File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        }

        return path;
    }

    private static string Mode(string root, string relative) =>
        Convert.ToString((int)File.GetUnixFileMode(Path.Combine(root, relative)), 8);

    private static string FindRepository()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "packaging/install.sh")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("packaging/install.sh not found above " + AppContext.BaseDirectory);
    }
}
