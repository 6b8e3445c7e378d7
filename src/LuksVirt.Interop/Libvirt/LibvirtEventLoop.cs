namespace LuksVirt.Libvirt;

/// <summary>
/// libvirt's default event loop (virEventRegisterDefaultImpl) run on one background thread
/// for the whole process. Must be registered before the first connection is opened.
/// </summary>
public static class LibvirtEventLoop
{
    public static void EnsureStarted() => throw new NotImplementedException();
}
