using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Service;

/// <summary>An image attached with <c>losetup -f --show</c>: the kernel raises the same kind of
/// uevent a stick does. Dispose detaches it if the test did not.</summary>
public sealed class LoopDevice : IDisposable
{
    private LoopDevice(string node) => Node = node;

    /// <summary>e.g. "/dev/loop3".</summary>
    public string Node { get; }

    /// <summary>e.g. "loop3".</summary>
    public string Name => Path.GetFileName(Node);

    public bool IsAttached { get; private set; } = true;

    /// <summary>Attached read-write, as a stick is: a test's hash of the image then shows
    /// whether anything was written to it.</summary>
    public static LoopDevice Attach(string image) =>
        new(ToolRunner.Run("losetup", "-f", "--show", image).EnsureSuccess("losetup").StandardOutput.Trim());

    public void Detach()
    {
        if (IsAttached)
        {
            ToolRunner.Run("losetup", "-d", Node).EnsureSuccess("losetup -d " + Node);
            IsAttached = false;
        }
    }

    public void Dispose()
    {
        if (IsAttached)
        {
            // Best effort: a failed detach must not hide the test's own failure.
            _ = ToolRunner.Run("losetup", "-d", Node);
            IsAttached = false;
        }
    }
}
