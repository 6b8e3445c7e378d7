namespace LuksVirt.Core.Usb;

/// <summary>
/// The stick does not hold a FAT file system this reader accepts, or one of its structures is
/// damaged or hostile, or reading it would exceed a <see cref="FatReaderLimits"/> bound. The
/// message names the structure; it never holds file content.
/// </summary>
public sealed class FatFormatException : IOException
{
    public FatFormatException()
    {
    }

    public FatFormatException(string message) : base(message)
    {
    }

    public FatFormatException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
