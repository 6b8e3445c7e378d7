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

    /// <summary>Why <paramref name="directory"/> cannot serve as a key directory (missing, a
    /// symbolic link, open to others: the message names the fix), or null; for a service that
    /// checks it once at start-up, before any key is dropped there.</summary>
    public static string? Problem(string directory)
    {
        try
        {
            using var handle = TrustedKeyDirectory.Open(TrustedKeyDirectory.Normalize(directory));
            return null;
        }
        catch (KeyDirectoryException e)
        {
            return e.Message;
        }
    }

    /// <summary>Everything in <paramref name="directory"/> now, as one batch, for a caller that
    /// looks at what was read before it runs (the watch service, when files are dropped there).
    /// Throws an <see cref="IOException"/> naming the fix when the directory itself is unusable.</summary>
    public static IKeyPresentation ReadNow(string directory) => DirectoryKeyPresentation.Read(directory);

    /// <summary>Throws <see cref="KeyDirectoryException"/> when the directory itself is unusable.</summary>
    public IAsyncEnumerable<IKeyPresentation> PresentAsync(KeySourceContext context, CancellationToken cancellationToken) =>
        SingleBatch.Of(() => DirectoryKeyPresentation.Read(DirectoryPath));
}
