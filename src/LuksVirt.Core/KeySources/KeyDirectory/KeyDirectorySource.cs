namespace LuksVirt.Core.KeySources.KeyDirectory;

/// <summary>
/// Keys dropped as files into a RAM directory (the classic recipe's way): one batch, everything
/// in the directory when it is read (<see cref="KeyDirectoryReader"/>). The files are removed as
/// soon as their keys are in locked memory (<see cref="DirectoryKeyPresentation.WipeSource"/>).
/// </summary>
public sealed class KeyDirectorySource : IKeySource
{
    /// <summary>Where LuksVirt looks by default (tmpfs, 0700).</summary>
    public const string DefaultDirectory = "/run/luksvirt/keys";

    /// <summary>The classic recipe's directory, accepted unchanged.</summary>
    public const string LegacyDirectory = "/dev/shm/lukskeys";

    /// <summary>Prefix of <see cref="Keys.PresentedKey.Source"/> for keys from a directory.</summary>
    public const string SourcePrefix = "dir:";

    public KeyDirectorySource(string directoryPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(directoryPath);
        DirectoryPath = directoryPath;
    }

    /// <summary>The directory as given (checked and made absolute when read).</summary>
    public string DirectoryPath { get; }

    public string Description => $"key directory {DirectoryPath}";

    /// <summary>Throws <see cref="KeyDirectoryException"/> when the directory itself is unusable.</summary>
    public IAsyncEnumerable<IKeyPresentation> PresentAsync(KeySourceContext context, CancellationToken cancellationToken) =>
        SingleBatch.Of(() => DirectoryKeyPresentation.Read(DirectoryPath));
}
