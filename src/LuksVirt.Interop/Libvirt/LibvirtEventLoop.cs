namespace LuksVirt.Interop.Libvirt;

/// <summary>
/// libvirt's default event loop (virEventRegisterDefaultImpl) run on one background thread
/// for the whole process. Must be registered before the first connection is opened.
/// </summary>
public static class LibvirtEventLoop
{
    // A failing iteration (poll error) repeats at most this often instead of spinning a core.
    private static readonly TimeSpan FailedIterationPause = TimeSpan.FromMilliseconds(100);

    private static readonly Lock Gate = new();
    private static Thread? _thread;

    public static void EnsureStarted()
    {
        lock (Gate)
        {
            if (_thread is not null)
            {
                return;
            }

            LibvirtLibrary.EnsureInitialized();
            if (Interop.Libvirt.EventRegisterDefaultImpl() < 0)
            {
                throw LibvirtErrors.Create("virEventRegisterDefaultImpl");
            }

            // Background: the loop blocks in poll forever and must not keep the process alive.
            var thread = new Thread(Run) { IsBackground = true, Name = "libvirt-events" };
            thread.Start();
            _thread = thread;
        }
    }

    private static void Run()
    {
        while (true)
        {
            if (Interop.Libvirt.EventRunDefaultImpl() < 0)
            {
                Thread.Sleep(FailedIterationPause);
            }
        }
    }
}
