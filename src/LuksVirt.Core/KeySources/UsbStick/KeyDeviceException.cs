namespace LuksVirt.Core.KeySources.UsbStick;

/// <summary>The device or image named as a key stick is refused before anything on it is read:
/// missing, a symbolic link, not a block device or regular file, or not openable. The message
/// names the path and the fix.</summary>
internal sealed class KeyDeviceException : KeySourceRefusedException
{
    public KeyDeviceException(string device, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Device = device;
    }

    public string Device { get; }
}
