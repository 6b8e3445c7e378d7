namespace LuksVirt.Core.KeySources;

/// <summary>The place a key source was pointed at is refused before anything in it is read
/// (missing, a symbolic link, open to others, not a device): a run that stops here has changed
/// nothing. The message names the place and the fix.</summary>
internal abstract class KeySourceRefusedException : IOException
{
    protected KeySourceRefusedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
