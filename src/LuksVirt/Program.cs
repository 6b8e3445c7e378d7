using LuksVirt.Cli;

namespace LuksVirt;

internal static class Program
{
    private static int Main(string[] args) => LuksVirtCommandLine.Build().Parse(args).Invoke();
}
