using System.CommandLine;
using LuksVirt.Cli;

namespace LuksVirt;

internal static class Program
{
    // System.CommandLine's own SIGINT/SIGTERM handling would end the process after a grace
    // period, possibly before keys are zeroed; commands install their own handlers instead.
    private static int Main(string[] args) =>
        LuksVirtCommandLine.Build().Parse(args).Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null });
}
