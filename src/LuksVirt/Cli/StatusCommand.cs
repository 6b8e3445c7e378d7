using System.CommandLine;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Metrics;
using LuksVirt.Core.Runs;
using LuksVirt.Core.Status;
using LuksVirt.Interop.Libvirt;
using Spectre.Console;

namespace LuksVirt.Cli;

/// <summary><c>luksvirt status</c>: every inventory guest and whether its disks are locked.</summary>
internal static class StatusCommand
{
    public static Command Create(GlobalOptions global)
    {
        var json = new Option<bool>("--json") { Description = "print the report as JSON" };
        var prometheus = new Option<bool>("--prometheus") { Description = "print the report as Prometheus metrics (text format, for node_exporter's textfile collector)" };
        var command = new Command("status", "show every encrypted guest, its state and whether its disks are locked");
        command.Options.Add(json);
        command.Options.Add(prometheus);
        command.SetAction(parse =>
        {
            using var log = new ActivityLog(null, Console.Error);
            if (parse.GetValue(json) && parse.GetValue(prometheus))
            {
                log.Error("--json and --prometheus: choose one");
                return ExitCodes.Usage;
            }

            StatusReport report;
            try
            {
                report = new StatusReporter(parse.GetValue(global.Connect)!, parse.GetValue(global.Config), parse.GetValue(global.State)!, RunLock.Path, log).Run();
            }
            catch (Exception e) when (e is ConfigurationException or UnknownGuestException)
            {
                log.Error(e.Message);
                return ExitCodes.Usage;
            }
            catch (LibvirtException e)
            {
                log.Error($"libvirt: {e.Message}; is libvirtd running? (systemctl start libvirtd)");
                return ExitCodes.Failure;
            }

            if (parse.GetValue(json))
            {
                JsonOutput.Write(report, CliJsonContext.Default.StatusReport);
            }
            else if (parse.GetValue(prometheus))
            {
                Console.Out.Write(StatusMetrics.Render(report));
            }
            else
            {
                Render(report);
            }

            return report.Problems.Count == 0 ? ExitCodes.Success : ExitCodes.Failure;
        });
        return command;
    }

    private static void Render(StatusReport report)
    {
        var table = new Table().AddColumns("guest", "state", "autostart", "disk", "backend", "lock state", "last opened by");
        foreach (var guest in report.Guests)
        {
            var first = true;
            foreach (var disk in guest.Disks)
            {
                table.AddRow(
                    first ? Markup.Escape(guest.Name) : "",
                    first ? Markup.Escape(guest.State) : "",
                    first ? (guest.Autostart ? "[red]on[/]" : "off") : "",
                    Markup.Escape(Path.GetFileName(disk.Container)),
                    disk.Backend.ToString().ToLowerInvariant(),
                    LockStateText(disk),
                    disk.LastOpenedBy is null ? "" : Markup.Escape($"{disk.LastOpenedBy}/{disk.LastSlot} at {disk.LastOpenedAt:u}"));
                first = false;
            }
        }

        AnsiConsole.Write(table);
        foreach (var problem in report.Problems)
        {
            AnsiConsole.MarkupLine($"[red]problem:[/] {Markup.Escape(problem)}");
        }

        foreach (var waiting in report.QuorumWaiting)
        {
            AnsiConsole.MarkupLine($"[yellow]quorum not met:[/] {Markup.Escape(waiting)}");
        }

        foreach (var key in report.KeysInLibvirt.Where(k => !k.Leftover))
        {
            AnsiConsole.MarkupLine($"[yellow]key in libvirt:[/] {Markup.Escape($"secret {key.Uuid} holds the key of {key.Container}; a luksvirt run is under way and may be using it")}");
        }
    }

    /// <summary>A key still in a libvirt secret is shown in red with the secret's UUID, whether or not the guest runs.</summary>
    private static string LockStateText(DiskStatus disk) => disk.Secret switch
    {
        null => disk.State.ToString(),
        { MadeByLuksVirt: true } s => $"[red]{disk.State}[/] {Markup.Escape($"(secret {s.Uuid})")}",
        var s => $"{disk.State} {Markup.Escape($"(secret {s.Uuid}, not LuksVirt's)")}",
    };
}
