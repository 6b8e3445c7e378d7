namespace LuksVirt.Interop.Libc;

/// <summary>
/// A path that must name a regular file names something else: a FIFO (whose open would wait for
/// a writer, forever), a device (whose open already runs its driver), a socket or a directory.
/// It is refused without being read.
/// </summary>
public sealed class NotRegularFileException : IOException
{
    public NotRegularFileException(string path, PosixFileType type)
        : base($"{path} is {Describe(type)}, not a regular file")
    {
        Path = path;
        Type = type;
    }

    public string Path { get; }

    public PosixFileType Type { get; }

    /// <summary>"a FIFO", "a directory", ...: what the path is, for messages.</summary>
    public static string Describe(PosixFileType type) => type switch
    {
        PosixFileType.Directory => "a directory",
        PosixFileType.SymbolicLink => "a symbolic link",
        PosixFileType.BlockDevice => "a block device",
        PosixFileType.CharacterDevice => "a character device",
        PosixFileType.Fifo => "a FIFO",
        PosixFileType.Socket => "a socket",
        PosixFileType.Regular => "a regular file",
        _ => "a special file",
    };
}
