using System.CommandLine;
using LuksVirt.Core.Keys;
using LuksVirt.Core.Unlock;

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
        var vms = new Option<string[]>("--vm") { Description = "only this guest (repeatable)", AllowMultipleArgumentsPerToken = false };
        var dryRun = new Option<bool>("--dry-run") { Description = "find which key opens which disk; activate, start and delete nothing" };
        var json = new Option<bool>("--json") { Description = "print the report as JSON" };
        var command = new Command("unlock", "open the encrypted disks with the presented keys and start the guests whose disks are all open");
        command.Options.Add(keys);
        command.Options.Add(vms);
        command.Options.Add(dryRun);
        command.Options.Add(json);
        command.SetAction((parse, cancellationToken) =>
        {
            var options = new UnlockOptions
            {
                ConnectUri = parse.GetValue(global.Connect)!,
                ConfigPath = parse.GetValue(global.Config),
                VmNames = parse.GetValue(vms) ?? [],
                DryRun = parse.GetValue(dryRun),
                StatePath = parse.GetValue(global.State)!,
            };
            var directory = parse.GetValue(keys)!;
            return UnlockExecution.RunAsync(options, parse.GetValue(global.Log)!, parse.GetValue(json),
                () => DirectoryKeyPresentation.Read(directory), cancellationToken);
        });
        return command;
    }
}
