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

    /// <summary>True when a <see cref="FatReaderLimits"/> bound (or the stick's total read
    /// budget) was reached: the reader's work is used up, so the whole read ends here. Any other
    /// fault is damage to one structure, which a directory listing skips and reports.</summary>
    public bool IsLimitExceeded { get; private init; }

    internal static FatFormatException LimitExceeded(string message) => new(message) { IsLimitExceeded = true };
}
