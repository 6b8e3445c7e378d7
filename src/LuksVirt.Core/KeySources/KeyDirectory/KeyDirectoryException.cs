namespace LuksVirt.Core.KeySources.KeyDirectory;

/// <summary>The key directory itself is refused: missing, a symbolic link, not a directory, or
/// open to others. The message names the directory and the fix.</summary>
internal sealed class KeyDirectoryException : KeySourceRefusedException
{
    public KeyDirectoryException(string directory, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Directory = directory;
    }

    public string Directory { get; }
}
