namespace LuksVirt.Interop.Libc;

/// <summary>
/// A path LuksVirt opens without following links (O_NOFOLLOW) turned out to be a symbolic link:
/// someone may have planted it to redirect a read or write, so it is refused, never resolved.
/// </summary>
public sealed class SymbolicLinkRefusedException : IOException
{
    public SymbolicLinkRefusedException(string path)
        : base($"{path} is a symbolic link; LuksVirt does not follow symbolic links here")
    {
        Path = path;
    }

    public string Path { get; }
}
