using LuksVirt.Core.Logging;

namespace LuksVirt.Core.Inventory;

/// <summary>
/// The configuration file cannot be used. The message starts with <c>FILE:LINE: </c> (or
/// <c>FILE: </c> when the whole file is at fault) and names the fix. Maps to exit code 2.
/// </summary>
public sealed class ConfigurationException : Exception
{
    public ConfigurationException(string filePath, int? line, string problem)
        : base(Format(filePath, line, problem))
    {
        FilePath = filePath;
        Line = line;
    }

    public ConfigurationException(string filePath, int? line, string problem, Exception innerException)
        : base(Format(filePath, line, problem), innerException)
    {
        FilePath = filePath;
        Line = line;
    }

    public string FilePath { get; }

    /// <summary>1-based line, or null for a problem with the file as a whole (missing, unreadable).</summary>
    public int? Line { get; }

    // The path may come from the command line, unchecked: it is shown bounded.
    private static string Format(string filePath, int? line, string problem) =>
        line is null ? $"{EchoText.OfPath(filePath)}: {problem}" : $"{EchoText.OfPath(filePath)}:{line}: {problem}";
}
