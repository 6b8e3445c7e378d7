using System.CommandLine;
using LuksVirt.Core.Unlock;

namespace LuksVirt.Cli;

/// <summary>The options every command that runs an unlock takes (<c>unlock</c>, <c>usb</c>),
/// and how they become <see cref="UnlockOptions"/>.</summary>
internal sealed class UnlockRunOptions
{
    public Option<string[]> Vms { get; } = new("--vm") { Description = "only this guest (repeatable)", AllowMultipleArgumentsPerToken = false };

    public Option<bool> DryRun { get; } = new("--dry-run") { Description = "find which key opens which disk; activate, start and delete nothing" };

    public Option<bool> Json { get; } = new("--json") { Description = "print the report as JSON" };

    public void AddTo(Command command)
    {
        command.Options.Add(Vms);
        command.Options.Add(DryRun);
        command.Options.Add(Json);
    }

    public UnlockOptions Bind(ParseResult parse, GlobalOptions global) => new()
    {
        ConnectUri = parse.GetValue(global.Connect)!,
        ConfigPath = parse.GetValue(global.Config),
        VmNames = parse.GetValue(Vms) ?? [],
        DryRun = parse.GetValue(DryRun),
        StatePath = parse.GetValue(global.State)!,
    };
}
