namespace LuksVirt.Libc;

/// <summary>
/// An exclusive flock(2) on a lock file: the kernel releases it when the process dies, unlike
/// the classic recipe's <c>ps | grep</c>. Dispose releases it.
/// </summary>
public sealed class FileLock : IDisposable
{
    /// <summary>Waits up to <paramref name="timeout"/>; throws <see cref="TimeoutException"/> naming
    /// the lock file when another process keeps holding it.</summary>
    public static FileLock Acquire(string path, TimeSpan timeout, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public string Path => throw new NotImplementedException();

    public void Dispose() => throw new NotImplementedException();
}
