using System.CommandLine;
using System.CommandLine.Completions;
using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Cli.Completion;

/// <summary>
/// What Tab offers beyond commands and options (which System.CommandLine's <c>[suggest]</c>
/// directive knows from the tree itself, so the bash completion never drifts from the code):
/// guest names for every guest option or argument, from libvirt through the bindings, and block
/// devices for <c>usb</c>. Attached to the finished tree by name, so the commands stay as they are.
/// </summary>
internal static class CompletionSources
{
    private const string GuestOption = "--vm";
    private const string GuestArgument = "name";
    private const string DeviceArgument = "DEVICE";

    public static void Attach(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (var option in command.Options.Where(o => o.Name == GuestOption))
        {
            option.CompletionSources.Add(GuestNames);
            option.HelpName ??= "NAME";   // else help would try to list the completions as the value
        }

        foreach (var argument in command.Arguments)
        {
            if (argument.Name == GuestArgument && command.Name == "encrypt-vm")
            {
                argument.CompletionSources.Add(GuestNames);
                argument.HelpName ??= argument.Name;
            }
            else if (argument.Name == DeviceArgument)
            {
                argument.CompletionSources.Add(context => IsTabCompletion(context) ? BlockDevices() : []);
                argument.HelpName ??= argument.Name;
            }
        }

        foreach (var subcommand in command.Subcommands)
        {
            Attach(subcommand);
        }
    }

    /// <summary>Every libvirt domain of the connection the command line names; none when libvirt
    /// does not answer (Tab must never print an error).</summary>
    private static IEnumerable<CompletionItem> GuestNames(CompletionContext context)
    {
        if (!IsTabCompletion(context))
        {
            return [];
        }

        try
        {
            var uri = context.ParseResult.GetValue<string>("--connect") ?? "qemu:///system";
            using var connection = LibvirtConnection.Open(uri);
            var domains = connection.ListAllDomains();
            try
            {
                return domains.Select(d => d.Name).Order(StringComparer.Ordinal).Select(n => new CompletionItem(n)).ToList();
            }
            finally
            {
                foreach (var domain in domains)
                {
                    domain.Dispose();
                }
            }
        }
        catch (Exception e) when (e is LibvirtException or ArgumentException or InvalidOperationException)
        {
            return [];
        }
    }

    /// <summary>Help asks completion sources too, to print value lists in its usage lines: only a
    /// command line being completed (the [suggest] directive) gets guests and devices, so --help
    /// never connects to libvirt nor lists every disk.</summary>
    private static bool IsTabCompletion(CompletionContext context) => context is TextCompletionContext;

    /// <summary>Whole disks the kernel lists (/sys/block), as device nodes, loop and RAM disks left out.</summary>
    private static List<CompletionItem> BlockDevices()
    {
        try
        {
            return Directory.EnumerateDirectories("/sys/block")
                .Select(Path.GetFileName)
                .OfType<string>()
                .Where(n => !n.StartsWith("loop", StringComparison.Ordinal) && !n.StartsWith("ram", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal)
                .Select(n => new CompletionItem("/dev/" + n))
                .ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }
}
