namespace LuksVirt.Tests.Infrastructure;

/// <summary>
/// A fresh directory per test under /var/tmp/luksvirt-tests (not /tmp: tests scan /tmp for leaked
/// keys), world-traversable (0755) because QEMU runs as libvirt-qemu and must reach the images.
/// </summary>
public sealed class TempDirectory : IDisposable
{
    private const string Root = "/var/tmp/luksvirt-tests";

    public TempDirectory(string? prefix = null)
    {
        Directory.CreateDirectory(Root);
        System.IO.File.SetUnixFileMode(Root, (UnixFileMode)0b111_101_101);
        Path = System.IO.Path.Combine(Root, $"{prefix ?? "t"}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
        System.IO.File.SetUnixFileMode(Path, (UnixFileMode)0b111_101_101);
    }

    public string Path { get; }

    public string PathOf(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A test that failed may leave a busy file; the next run uses a new directory anyway.
        }
    }
}
