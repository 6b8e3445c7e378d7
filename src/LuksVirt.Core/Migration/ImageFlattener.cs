using System.Globalization;
using System.Text.Json;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Processes;

namespace LuksVirt.Core.Migration;

/// <summary>
/// Turns a disk image in any format QEMU reads (qcow2 with its backing chain, vmdk...) into a
/// flat raw file with <c>qemu-img</c>, so that the payload encryption reads plain sectors.
/// qemu-img cannot stream raw output into a pipe (it writes at offsets and needs a target it can
/// size), so the raw copy is a temporary file next to the destination, created 0600 by LuksVirt
/// itself and deleted right after encryption. No key is involved.
/// </summary>
internal static class ImageFlattener
{
    private const string Package = "qemu-utils";

    /// <summary>The size the guest sees (<c>qemu-img info --output=json</c>, "virtual-size").</summary>
    public static async Task<long> VirtualSizeAsync(string image, string format, CancellationToken cancellationToken)
    {
        var result = await ExternalTool.RunAsync("qemu-img", ["info", "--output=json", "-f", format, image], Package, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new IOException($"qemu-img info {image} failed (exit {result.ExitCode.ToString(CultureInfo.InvariantCulture)}): {result.StandardError}");
        }

        using var json = JsonDocument.Parse(result.StandardOutput);
        return json.RootElement.GetProperty("virtual-size").GetInt64();
    }

    /// <summary>Writes the guest-visible content of <paramref name="image"/> into
    /// <paramref name="rawTarget"/>, an existing sparse file of the virtual size (holes stay holes).</summary>
    public static async Task FlattenAsync(string image, string format, string rawTarget, CancellationToken cancellationToken)
    {
        var result = await ExternalTool.RunAsync(
            "qemu-img",
            ["convert", "-n", "--target-is-zero", "-f", format, "-O", "raw", image, rawTarget],
            Package,
            cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new IOException($"qemu-img convert {image} to raw failed (exit {result.ExitCode.ToString(CultureInfo.InvariantCulture)}): {result.StandardError}");
        }
    }
}
