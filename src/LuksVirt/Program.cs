using System.CommandLine;
using LuksVirt.Cli;

namespace LuksVirt;

internal static class Program
{
    private static int Main(string[] args)
    {
        // Piped into a log or a pager, tables are not squeezed into 80 columns.
        if (Console.IsOutputRedirected)
        {
            Spectre.Console.AnsiConsole.Profile.Width = 200;
        }

        var parse = LuksVirtCommandLine.Build().Parse(args);

        // System.CommandLine's own SIGINT/SIGTERM handling would end the process after a grace
        // period, possibly before keys are zeroed; commands install their own handlers instead.
        var exitCode = parse.Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null });

        // It prints usage errors itself, but exits 1 for them; the contract says 2.
        return parse.Errors.Count > 0 ? ExitCodes.Usage : exitCode;
    }
}
