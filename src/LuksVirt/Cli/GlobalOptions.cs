using System.CommandLine;
using LuksVirt.Core.State;

namespace LuksVirt.Cli;

/// <summary>Options every command accepts (architecture.md, "Command line").</summary>
internal sealed class GlobalOptions
{
    public const string DefaultConfigPath = "/etc/luksvirt/luksvirt.xml";
    public const string DefaultLogPath = "/var/log/luksvirt.log";

    public Option<string> Connect { get; } = new("--connect")
    {
        Description = "libvirt connection URI",
        DefaultValueFactory = _ => "qemu:///system",
        Recursive = true,
    };

    public Option<string?> Config { get; } = new("--config")
    {
        Description = $"inventory file (default {DefaultConfigPath}; absent = libvirt discovery only)",
        Recursive = true,
    };

    public Option<string> Log { get; } = new("--log")
    {
        Description = "log file",
        DefaultValueFactory = _ => DefaultLogPath,
        Recursive = true,
    };

    public Option<string> State { get; } = new("--state")
    {
        Description = "state file: which holder opened which disk last (names only, never keys)",
        DefaultValueFactory = _ => UnlockStateStore.DefaultPath,
        Recursive = true,
    };

    public void AddTo(RootCommand root)
    {
        root.Options.Add(State);
        root.Options.Add(Connect);
        root.Options.Add(Config);
        root.Options.Add(Log);
    }
}
