using System.CommandLine;
using LuksVirt.Cli.Completion;

namespace LuksVirt.Cli;

/// <summary>The command tree of <c>luksvirt</c>; each command lives in its own file.</summary>
internal static class LuksVirtCommandLine
{
    public static RootCommand Build()
    {
        var global = new GlobalOptions();
        var root = new RootCommand("LuksVirt: unlock LUKS-encrypted disks of libvirt/QEMU guests and start them.");
        global.AddTo(root);
        root.Subcommands.Add(UnlockCommand.Create(global));
        root.Subcommands.Add(UsbCommand.Create(global));
        root.Subcommands.Add(WatchCommand.Create(global));
        root.Subcommands.Add(LockCommand.Create(global));
        root.Subcommands.Add(StatusCommand.Create(global));
        root.Subcommands.Add(DoctorCommand.Create(global));
        root.Subcommands.Add(KeysCommand.Create());
        root.Subcommands.Add(HeaderCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(CreateCommand.Create(global));
        root.Subcommands.Add(EncryptVmCommand.Create(global));
        CompletionSources.Attach(root);
        return root;
    }
}
