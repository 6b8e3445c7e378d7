using System.CommandLine;
using LuksVirt.Core.Doctor;
using Spectre.Console;

namespace LuksVirt.Cli;

/// <summary><c>luksvirt doctor</c>: host checks, with the fix for anything missing.</summary>
internal static class DoctorCommand
{
    public static Command Create(GlobalOptions global)
    {
        var json = new Option<bool>("--json") { Description = "print the report as JSON" };
        var command = new Command("doctor", "check this host: libvirt, QEMU, libcryptsetup, dm-crypt, crypto, autostart, LUKS1 containers without room for clevis/Tang bindings");
        command.Options.Add(json);
        command.SetAction(parse =>
        {
            var report = new HostDoctor(parse.GetValue(global.Connect)!, parse.GetValue(global.Config)).Run();
            if (parse.GetValue(json))
            {
                JsonOutput.Write(report, CliJsonContext.Default.DoctorReport);
            }
            else
            {
                Render(report);
            }

            return report.RequiredChecksPassed ? ExitCodes.Success : ExitCodes.Failure;
        });
        return command;
    }

    private static void Render(DoctorReport report)
    {
        var table = new Table().AddColumns("check", "status", "detail", "fix");
        foreach (var check in report.Checks)
        {
            var status = check.Status switch
            {
                CheckStatus.Ok => "[green]ok[/]",
                CheckStatus.Warning => "[yellow]warning[/]",
                _ => check.Required ? "[red]MISSING[/]" : "[red]failed[/]",
            };
            table.AddRow(Markup.Escape(check.Name), status, Markup.Escape(check.Detail), Markup.Escape(check.Fix ?? ""));
        }

        AnsiConsole.Write(table);
    }
}
