using LuksVirt.Core.Containers;
using LuksVirt.Core.Processes;
using LuksVirt.Core.Volumes;

namespace LuksVirt.Tests.Containers;

/// <summary>How the lvm2 tools are run (the LV path itself is proven in the lab VM,
/// scripts/lab/tests/create-lvm.sh: this machine's kernel has no device-mapper).</summary>
public sealed class LogicalVolumeTests
{
    [Fact]
    public void Without_udevd_lvm_is_told_to_manage_the_device_nodes_itself()
    {
        Assert.Equal(new Dictionary<string, string> { ["DM_DISABLE_UDEV"] = "1" }, LogicalVolumes.ToolEnvironment(udevRunning: false));
        Assert.Empty(LogicalVolumes.ToolEnvironment(udevRunning: true));
    }

    [Fact]
    public async Task The_tool_environment_reaches_the_tool_on_top_of_the_own_one()
    {
        var result = await ExternalTool.RunAsync(
            "sh",
            ["-c", "printf '%s|%s' \"$DM_DISABLE_UDEV\" \"$PATH\""],
            new Dictionary<string, string> { ["DM_DISABLE_UDEV"] = "1" },
            "dash",
            CancellationToken.None);

        Assert.True(result.Succeeded, result.StandardError);
        Assert.Equal("1|" + Environment.GetEnvironmentVariable("PATH"), result.StandardOutput);
    }

    [Theory]
    [InlineData("vg0/web-d0", true)]
    [InlineData("vg_0/web.d0+x", true)]
    [InlineData("vg0/-web", false)]
    [InlineData("vg0/web/d0", false)]
    [InlineData("vg0/..", false)]
    [InlineData("web-d0", false)]
    public void Volume_names_follow_lvm_rules(string text, bool valid) => Assert.Equal(valid, LogicalVolumes.IsVolumeName(text));
}
