using System.CommandLine;
using LuksVirt.Core.KeySources.KeyDirectory;

namespace LuksVirt.Cli;

/// <summary><c>luksvirt unlock</c>: the main job, with keys from a directory.</summary>
internal static class UnlockCommand
{
    public static Command Create(GlobalOptions global)
    {
        var keys = new Option<string>("--keys")
        {
            Description = $"directory holding luks-<holder>[.<slot>].key files (also {KeyDirectorySource.LegacyDirectory})",
            DefaultValueFactory = _ => KeyDirectorySource.DefaultDirectory,
        };
        var run = new UnlockRunOptions();
        var command = new Command("unlock", "open the encrypted disks with the presented keys and start the guests whose disks are all open");
        command.Options.Add(keys);
        run.AddTo(command);
        command.SetAction((parse, cancellationToken) =>
        {
            var directory = parse.GetValue(keys)!;
            return UnlockCommandRun.RunAsync(run.Bind(parse, global), parse.GetValue(global.Log)!, parse.GetValue(run.Json),
                [new KeyDirectorySource(directory)], cancellationToken);
        });
        return command;
    }
}
