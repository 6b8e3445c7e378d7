using System.CommandLine;
using System.Text.RegularExpressions;
using LuksVirt.Cli;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Packaging;

/// <summary>
/// The man pages: built from their scdoc sources by scripts/build-man.sh, clean for man's own
/// checker, carrying VERSION, and documenting exactly the commands and options the program
/// declares (so neither can drift from the other).
/// </summary>
public sealed partial class ManPageTests : IDisposable
{
    private static readonly string[] Pages = ["luksvirt.8", "luksvirt.xml.5"];

    private readonly TempDirectory _out = new("luksvirt-man");

    public void Dispose() => _out.Dispose();

    [Fact]
    public void Both_pages_build_and_man_finds_nothing_to_warn_about()
    {
        ToolRunner.Run("bash", Repository.PathOf("scripts/build-man.sh"), _out.Path).EnsureSuccess("build-man.sh");
        var version = File.ReadAllText(Repository.PathOf("VERSION")).Trim();

        foreach (var page in Pages)
        {
            var path = _out.PathOf(page);
            var man = ToolRunner.Run("man", ["--warnings", "-l", path], environment: new Dictionary<string, string> { ["MANWIDTH"] = "80", ["MAN_KEEP_FORMATTING"] = "0" });

            Assert.True(man.ExitCode == 0 && man.StandardError.Length == 0, $"{page}: exit {man.ExitCode}\n{man.StandardError}");
            Assert.Contains($"luksvirt {version}", man.StandardOutput, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_command_and_option_the_program_declares_is_in_the_man_page_and_nothing_else()
    {
        var sections = Sections(File.ReadAllLines(Repository.PathOf("docs/man/luksvirt.8.scd")));
        var root = LuksVirtCommandLine.Build();
        var problems = new List<string>();

        Compare("GLOBAL OPTIONS", root.Options.Select(o => o.Name).Where(n => n.StartsWith("--", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal), sections, problems);
        foreach (var (path, command) in Commands(root, prefix: ""))
        {
            var declared = command.Options.Where(o => !o.Recursive && o is not System.CommandLine.Help.HelpOption && o is not VersionOption).Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
            if (command.Subcommands.Count > 0 && declared.Count == 0)
            {
                continue;   // a group such as "keys": its subcommands have the sections
            }

            Compare(path, declared, sections, problems);
        }

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    private static void Compare(string section, HashSet<string> declared, Dictionary<string, HashSet<string>> sections, List<string> problems)
    {
        if (!sections.TryGetValue(section, out var documented))
        {
            problems.Add($"docs/man/luksvirt.8.scd has no section \"{section}\"");
            return;
        }

        problems.AddRange(declared.Except(documented).Select(o => $"{section}: {o} is declared by the program but not in the man page"));
        problems.AddRange(documented.Except(declared).Select(o => $"{section}: {o} is in the man page but the program has no such option"));
    }

    private static IEnumerable<(string Path, Command Command)> Commands(Command command, string prefix)
    {
        foreach (var subcommand in command.Subcommands)
        {
            var path = prefix.Length == 0 ? subcommand.Name : $"{prefix} {subcommand.Name}";
            yield return (path, subcommand);
            foreach (var nested in Commands(subcommand, path))
            {
                yield return nested;
            }
        }
    }

    /// <summary>Options documented per section: "# GLOBAL OPTIONS" and "## command", each
    /// option a line that starts with *--name*.</summary>
    private static Dictionary<string, HashSet<string>> Sections(string[] lines)
    {
        var sections = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        HashSet<string>? current = null;
        foreach (var line in lines)
        {
            if (line.StartsWith("## ", StringComparison.Ordinal) || line == "# GLOBAL OPTIONS")
            {
                current = sections[line.TrimStart('#').Trim()] = new HashSet<string>(StringComparer.Ordinal);
            }
            else if (line.StartsWith("# ", StringComparison.Ordinal))
            {
                current = null;
            }
            else if (current is not null && DocumentedOption().Match(line) is { Success: true } match)
            {
                current.Add(match.Groups[1].Value);
            }
        }

        return sections;
    }

    [GeneratedRegex(@"^\*(--[a-z0-9-]+)\*")]
    private static partial Regex DocumentedOption();
}
