namespace LuksVirt.Tests.Infrastructure;

/// <summary>The checkout the tests were built from: the first directory above the test binary
/// that holds the VERSION file.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "VERSION")) && Directory.Exists(Path.Combine(directory.FullName, "docs")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no checkout (a directory with VERSION) above {AppContext.BaseDirectory}");
    }
}
